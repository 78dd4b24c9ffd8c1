import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { neverAborted as signal, noopLogger as logger } from '../../core/index.js';
import { encodeChecked } from '../fs/atomic.js';
import { openStore, type TbuildStore } from '../store.js';
import { removeDeadOwners, removeDeadTemps } from './dead-owners.js';

let root: string;
let store: TbuildStore;
/** A pid whose process has exited (and was reaped). */
let dead: number;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-dead-owners-'));
  store = await openStore({ root, durable: false });
  dead = spawnSync('true').pid;
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('removeDeadOwners', () => {
  it("removes dead processes' temps, active snapshots and leases, and keeps live ones", async () => {
    const { tmp } = store.layout;
    await mkdir(join(tmp, `${String(dead)}-0-deadbeef`, 'upper'), { recursive: true });
    await writeFile(join(tmp, `${String(process.pid)}-0-alive`), 'mine');
    await mkdir(join(tmp, 'mnt'));

    const live = await store.snapshots.prepare({ signal });
    const gone = await store.snapshots.prepare({ signal });
    const goneDir = join(store.layout.snapshotActive, gone.id);
    await writeFile(join(goneDir, 'owner.json'), encodeChecked({ owner: { pid: dead, start: 1 } }));

    const kept = await store.leases.create({ signal, id: 'kept' });
    const lost = await store.leases.create({ signal, id: 'lost' });
    await store.leases.write({ ...lost.resources, owner: { pid: dead, start: 1 } }, signal);

    const report = await removeDeadOwners(store, { signal, logger });
    expect(report).toEqual({ temps: 1, activeSnapshots: 1, leases: 1 });
    expect((await readdir(tmp)).sort()).toEqual([`${String(process.pid)}-0-alive`, 'mnt']);
    expect(await readdir(store.layout.snapshotActive)).toEqual([live.id]);
    expect((await store.leases.list()).map((lease) => lease.id)).toEqual([kept.resources.id]);

    // Nothing is left for a second pass, run by another command a moment later.
    expect(await removeDeadOwners(store, { signal, logger })).toEqual({
      temps: 0,
      activeSnapshots: 0,
      leases: 0,
    });
  });

  it('removes old temps of a reused pid only when asked, and never an entry not named by a pid', async () => {
    const { tmp } = store.layout;
    const old = join(tmp, `${String(process.pid)}-0-old`);
    await writeFile(old, 'stale');
    await mkdir(join(tmp, 'mnt', 'm1x0'), { recursive: true });
    const dayAgo = (Date.now() - 2 * 24 * 3600_000) / 1000;
    for (const path of [old, join(tmp, 'mnt'), join(tmp, 'mnt', 'm1x0')])
      await utimes(path, dayAgo, dayAgo);
    expect(await removeDeadTemps(tmp)).toBe(0);
    expect(await removeDeadTemps(tmp, { maxAgeMs: 24 * 3600_000 })).toBe(1);
    expect(await readdir(tmp)).toEqual(['mnt']);
    expect(await readdir(join(tmp, 'mnt'))).toEqual(['m1x0']);
  });
});
