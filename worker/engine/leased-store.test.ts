import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { neverAborted as signal, noopLogger } from '../../core/index.js';
import { listWithNodeFs, openStore, type DirectoryLister } from '../../cache/index.js';
import { leasedStore } from './leased-store.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-leased-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('leasedStore', () => {
  it("keeps the store's settings: its directory lister and durability", async () => {
    const listed: string[] = [];
    const counting: DirectoryLister = (path) => {
      listed.push(path);
      return listWithNodeFs(path);
    };
    const store = await openStore({ root, durable: false, listDirectory: counting });
    const lease = await store.leases.create({ signal });
    const leased = leasedStore(store, lease, { logger: noopLogger });

    const active = await leased.snapshots.prepare({ signal });
    await writeFile(join(active.upperdir, 'file'), 'x');
    await leased.snapshots.commit(active.id, { signal });
    expect(listed).toEqual([active.upperdir]);
    expect(leased.snapshots.options.durable).toBe(false);
    expect(leased.records.options.durable).toBe(false);
  });
});
