import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { requires, runTbuild, useBuildRoot, writeContext } from '../harness/index.js';

/**
 * Issue #17: what a step prints reaches the user's terminal neutralised. A
 * failing RUN prints an OSC title, a screen clear and a 5 MB line; the plain
 * progress, the failure block and the error shown after it carry no raw
 * escape and quote the long line once, cut.
 */
let root = '';
let work = '';
useBuildRoot('tbuild-terminal-', (dirs) => {
  ({ root, work } = dirs);
});

const DOCKERFILE = `FROM busybox
RUN printf '\\033]0;pwned\\007\\033[2J hostile\\n' && head -c 5242880 /dev/zero | tr '\\0' x && echo && exit 7
`;

/** Raw C0 (but \\n, \\t and \\r), DEL and C1 controls in `text`. */
function rawControls(text: string): number[] {
  const found: number[] = [];
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    const allowed = code === 0x0a || code === 0x09 || code === 0x0d;
    if (!allowed && (code < 0x20 || (code >= 0x7f && code <= 0x9f))) found.push(code);
  }
  return found;
}

describe('terminal output of a hostile step', () => {
  it('shows escapes as text and quotes a 5 MB line once, cut', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const context = await writeContext(join(work, 'hostile'), { Dockerfile: DOCKERFILE });
    const result = runTbuild(['build', '--progress=plain', context], { root });
    expect(result.code, result.stderr.slice(-2000)).toBe(1);
    expect(rawControls(result.stderr)).toEqual([]);
    expect(result.stderr).toContain(' ^[]0;pwned^G^[[2J hostile\n');
    // The live log quotes the line cut at 4 KB, once; the failure block a shorter reminder.
    expect(result.stderr.match(/x{4096}… \(5238784 more bytes\)/g)).toHaveLength(1);
    expect(result.stderr.match(/x+… \(\d+ more bytes\)/g)).toHaveLength(2);
    expect(result.stderr.length).toBeLessThan(32 * 1024);
    expect(result.stderr).toMatch(/^ERROR: process .* exit code: 7$/m);
  }, 120_000);
});
