import { describe, expect, it } from 'vitest';
import { decodeRawText, encodeRawText } from '../../core/index.js';
import { topologicalOrder, type ExecOp } from '../../solver/ir/index.js';
import { parseDockerfile } from '../dockerfile/index.js';
import { emptyImageResolver } from './empty-resolver.js';
import { lowerDockerfile } from './lower.js';

/**
 * A Dockerfile line with bytes that are not UTF-8, read as raw text
 * (core/raw-text.ts): what BuildKit passes on unexpanded keeps the bytes,
 * what its lexer or JSON decoder reads gets U+FFFD, as there.
 */
async function lowerBytes(bytes: Buffer) {
  const text = decodeRawText(bytes);
  return lowerDockerfile(parseDockerfile(text, { file: 'Dockerfile' }), {
    resolver: emptyImageResolver,
    signal: AbortSignal.timeout(10_000),
  });
}

function execArgs(root: Parameters<typeof topologicalOrder>[0][number] | undefined): string[][] {
  if (root === undefined) return [];
  return topologicalOrder([root])
    .map((vertex) => vertex.op)
    .filter((op): op is ExecOp => op.kind === 'exec')
    .map((op) => [...op.args]);
}

const STRAY = Buffer.from([0x62, 0xff, 0xfe, 0x61, 0x64]); // "b\xff\xfead"

describe('bytes that are not UTF-8 in a Dockerfile', () => {
  it('reach a shell-form RUN byte for byte; ENV, exec form and the image config get U+FFFD', async () => {
    const dockerfile = Buffer.concat([
      Buffer.from('FROM busybox\nENV V='),
      STRAY,
      Buffer.from('\nRUN printf %s '),
      STRAY,
      Buffer.from(' > /x\nRUN ["echo", "'),
      STRAY,
      Buffer.from('"]\nCMD echo '),
      STRAY,
      Buffer.from('\n'),
    ]);
    const lowered = await lowerBytes(dockerfile);
    const [shellForm, execForm] = execArgs(lowered.root);
    const script = shellForm?.at(-1) ?? '';
    expect(encodeRawText(script)).toEqual(
      Buffer.concat([Buffer.from('printf %s '), STRAY, Buffer.from(' > /x')]),
    );
    expect(execForm).toEqual(['echo', 'b\ufffd\ufffdad']);
    expect(lowered.image.config.Env).toContain('V=b\ufffd\ufffdad');
    expect(lowered.image.config.Cmd).toEqual(['/bin/sh', '-c', 'echo b\ufffd\ufffdad']);
    expect(JSON.stringify(lowered.image)).not.toMatch(/\\udc/);
    // History is written with Go's %q, which shows such a byte as \xff.
    expect(JSON.stringify(lowered.image.history)).toContain('echo b\\\\xff\\\\xfead');
  });
});
