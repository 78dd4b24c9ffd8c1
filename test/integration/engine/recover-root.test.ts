import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../cache/index.js';
import { neverAborted as signal, noopLogger as logger } from '../../../core/index.js';
import { recoverRoot } from '../../../worker/engine/recover-root.js';
import { requires } from '../../harness/index.js';

/** Mount points under `dir`, as this process's mount namespace sees them. */
async function mountsUnder(dir: string): Promise<string[]> {
  const lines = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  return lines.map((line) => line.split(' ')[4] ?? '').filter((path) => path.startsWith(dir));
}

function mount(...args: string[]): void {
  const result = spawnSync('mount', args, { encoding: 'utf8' });
  expect(result.stderr).toBe('');
}

describe('recoverRoot', () => {
  it("detaches a dead process's stacked mounts and removes its debris; a live one's stays", async (ctx) => {
    requires(ctx, 'root');
    const root = await mkdtemp(join(tmpdir(), 'tbuild-recover-'));
    const store = await openStore({ root });
    const mnt = join(store.layout.tmp, 'mnt');
    const dead = spawnSync('true').pid;
    const source = join(root, 'source');
    await mkdir(source);
    await writeFile(join(source, 'file'), 'kept');
    const deadPoint = join(mnt, `m${String(dead)}xdeadbeef`);
    const livePoint = join(mnt, `m${String(process.pid)}xalive`);
    await mkdir(deadPoint, { recursive: true });
    await mkdir(livePoint);
    // Read-only, and twice: a stack that one detach would not clear.
    mount('--bind', '-o', 'ro', source, deadPoint);
    mount('--bind', '-o', 'ro', source, deadPoint);
    mount('--bind', source, livePoint);
    ctx.onTestFinished(async () => {
      spawnSync('umount', ['-l', livePoint]);
      spawnSync('umount', ['-R', '-l', deadPoint]);
      await rm(root, { recursive: true, force: true });
    });
    await mkdir(join(store.layout.tmp, `${String(dead)}-0-scratch`, 'upper'), { recursive: true });
    const lease = await store.leases.create({ signal, id: 'killed-build' });
    await store.leases.write({ ...lease.resources, owner: { pid: dead, start: 1 } }, signal);

    const report = await recoverRoot(store, { signal, logger });
    expect(report).toEqual({ mounts: 1, temps: 1, activeSnapshots: 0, leases: 1 });
    expect(await mountsUnder(root)).toEqual([livePoint]);
    expect(await readdir(mnt)).toEqual([`m${String(process.pid)}xalive`]);
    expect(await readFile(join(livePoint, 'file'), 'utf8')).toBe('kept');
    expect(await readFile(join(source, 'file'), 'utf8')).toBe('kept');
    expect(await store.leases.list()).toEqual([]);
  });
});
