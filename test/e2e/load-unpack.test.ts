import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requires, rootWithBusybox, runTbuild } from '../harness/index.js';

/** `tbuild load` unpacks what it loads, as `docker load` does: the first FROM has nothing to extract. */
const cleanup: string[] = [];
afterAll(async () => {
  for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
});

describe('tbuild load', () => {
  it('leaves the image unpacked: the first build shows its FROM as CACHED', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    // rootWithBusybox runs `tbuild load` (scripts/make-busybox-image.sh).
    const root = await rootWithBusybox();
    const context = await mkdtemp(join(tmpdir(), 'tbuild-load-unpack-'));
    cleanup.push(root, context);
    await writeFile(join(context, 'Dockerfile'), 'FROM busybox\nRUN echo built > /built\n');
    const built = runTbuild(['build', '--progress=plain', context], { root });
    expect(built.code, built.stderr).toBe(0);
    const from = /^#(\d+) \[1\/2\] FROM docker\.io\/library\/busybox:latest$/m.exec(built.stderr);
    expect(from, built.stderr).not.toBeNull();
    expect(built.stderr).toMatch(new RegExp(`^#${from?.[1] ?? ''} CACHED$`, 'm'));
    expect(built.stderr).toMatch(/^#\d+ \[2\/2\] RUN echo built > \/built$/m);
  });
});
