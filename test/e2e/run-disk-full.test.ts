import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requires, rootWithBusybox, runTbuild, writeContext } from '../harness/index.js';

/**
 * A RUN whose command fails because the tbuild root's filesystem is full fails with
 * TB_RUN_FAILED as any failing command does, but says why: a hint names the full
 * filesystem (worker/engine/ops/disk-full-hint.ts). The root sits on a small tmpfs, as
 * in disk-faults.test.ts; a RUN that fails with room to spare gets no such hint.
 */
describe('a RUN that fills the disk', () => {
  it('fails with TB_RUN_FAILED and a hint that the filesystem is full', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox', 'nftables');
    const work = await mkdtemp(join(tmpdir(), 'tbuild-run-full-'));
    const small = join(work, 'small');
    const template = await rootWithBusybox();
    ctx.onTestFinished(async () => {
      spawnSync('umount', ['-l', small]);
      await rm(work, { recursive: true, force: true });
      await rm(template, { recursive: true, force: true });
    });
    await mkdir(small);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', small], {
      encoding: 'utf8',
    });
    expect(mounted.stderr).toBe('');
    const root = join(small, 'root');
    const copied = spawnSync('cp', ['-a', template, root], { encoding: 'utf8' });
    expect(copied.stderr).toBe('');

    const filling = await writeContext(join(work, 'filling'), {
      Dockerfile: 'FROM busybox\nRUN dd if=/dev/zero of=/fill bs=64k\n',
    });
    const full = runTbuild(['build', '--progress=plain', filling], { root });
    expect(full.code, full.stderr).toBe(1);
    expect(full.stderr).toMatch(/^error code: TB_RUN_FAILED$/m);
    expect(full.stderr).toContain('No space left on device');
    expect(full.stderr).toMatch(/^hint: the filesystem of the tbuild root has no space left/m);

    // The layer was dropped, so there is room again: an ordinary failure gets no such hint.
    const failing = await writeContext(join(work, 'failing'), {
      Dockerfile: 'FROM busybox\nRUN exit 3\n',
    });
    const failed = runTbuild(['build', '--progress=plain', failing], { root });
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/^error code: TB_RUN_FAILED$/m);
    expect(failed.stderr).not.toContain('no space left');
  }, 180_000);
});
