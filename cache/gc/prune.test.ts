import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MEDIA_TYPES,
  neverAborted as signal,
  sha256Digest,
  type Descriptor,
} from '../../core/index.js';
import { encodeChecked } from '../fs/atomic.js';
import { IMAGE_DESCRIPTION_MEDIA_TYPE } from '../index/image-description.js';
import { currentOwner } from '../fs/process-owner.js';
import { openStore, type TbuildStore } from '../store.js';

let root: string;
let store: TbuildStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-gc-'));
  store = await openStore({ root, durable: false });
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function blob(
  text: string,
  mediaType: string = MEDIA_TYPES.ociLayerGzip,
): Promise<Descriptor> {
  const { digest, size } = await store.content.writeBuffer(Buffer.from(text), { signal });
  return { mediaType, digest, size };
}

async function snapshot(bytes: number, parent?: string): Promise<string> {
  const active = await store.snapshots.prepare({
    signal,
    ...(parent === undefined ? {} : { parent }),
  });
  await writeFile(join(active.upperdir, 'data'), Buffer.alloc(bytes));
  return (await store.snapshots.commit(active.id, { signal })).id;
}

/** Time passes for prune's "appeared after the run began" rule. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('prune', () => {
  it('keeps an image built here: its description, config, known blobs, layer snapshots and the manifests made of it', async () => {
    const config = await blob('{"config":{}}', MEDIA_TYPES.ociConfig);
    const baseBlob = await blob('base layer');
    const base = await snapshot(10);
    const top = await snapshot(20, base);
    const description = await blob(
      JSON.stringify({
        mediaType: IMAGE_DESCRIPTION_MEDIA_TYPE,
        config,
        layers: [
          { diffId: sha256Digest('base tar'), snapshot: base, blob: baseBlob, size: 10 },
          { diffId: sha256Digest('top tar'), snapshot: top, size: 20 },
        ],
        manifest: { compression: 'gzip', ociMediaTypes: true },
      }),
      IMAGE_DESCRIPTION_MEDIA_TYPE,
    );
    const madeLayer = await blob('top layer, compressed for a push');
    const manifest = await blob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config,
        layers: [baseBlob, madeLayer],
      }),
      MEDIA_TYPES.ociManifest,
    );
    await store.images.put('example/built:1', description);
    await store.images.addManifest('example/built:1', description.digest, manifest);
    const orphan = await blob('nobody refers to me');
    await tick();

    const report = await store.prune({ signal, all: true });
    expect(report).toMatchObject({ blobs: 1, snapshots: 0 });
    expect(await store.content.info(orphan.digest)).toBeUndefined();
    for (const kept of [config, baseBlob, description, madeLayer, manifest])
      expect(await store.content.info(kept.digest)).toBeDefined();
    expect(await store.snapshots.get(top)).toBeDefined();
    expect(await store.snapshots.get(base)).toBeDefined();

    // Without its name, all of it goes.
    await store.images.delete('example/built:1');
    await tick();
    expect(await store.prune({ signal, all: true })).toMatchObject({ blobs: 5, snapshots: 2 });
  });

  it('keeps what images reach through manifests and removes unreferenced records with --all', async () => {
    const config = await blob('{"config":{}}', MEDIA_TYPES.ociConfig);
    const layer = await blob('layer bytes');
    const manifest = await blob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config,
        layers: [layer],
      }),
      MEDIA_TYPES.ociManifest,
    );
    await store.images.put('example:latest', manifest);
    const orphan = await blob('nobody refers to me');
    const base = await snapshot(10);
    const top = await snapshot(20, base);
    const cachedLayer = await blob('cached layer');
    const key = sha256Digest('key');
    await store.records.save(
      key,
      { snapshot: top, blobs: [cachedLayer], description: 'RUN x' },
      signal,
    );
    await tick();

    const dangling = await store.prune({ signal });
    expect(dangling).toMatchObject({ records: 0, blobs: 1, snapshots: 0 });
    expect(await store.content.info(orphan.digest)).toBeUndefined();
    expect(await store.snapshots.get(base)).toBeDefined();

    const all = await store.prune({ signal, all: true });
    expect(all).toMatchObject({ records: 1, blobs: 1, snapshots: 2 });
    for (const kept of [config, layer, manifest])
      expect(await store.content.info(kept.digest)).toBeDefined();
    expect(await store.records.load(key, { signal })).toBeUndefined();
  });

  it('never removes what a live lease holds', async () => {
    const lease = await store.leases.create({ signal });
    const held = await blob('held');
    const id = await snapshot(5);
    const key = sha256Digest('leased key');
    await store.records.save(key, { snapshot: id }, signal);
    await lease.add({ blobs: [held.digest], records: [key] }, signal);
    await tick();
    expect(await store.prune({ signal, all: true })).toMatchObject({
      records: 0,
      blobs: 0,
      snapshots: 0,
    });
    await lease.release();
    expect(await store.prune({ signal, all: true })).toMatchObject({
      records: 1,
      blobs: 1,
      snapshots: 1,
    });
  });

  it('makes a lease add wait out a running prune, but not the marker of a dead one', async () => {
    const lease = await store.leases.create({ signal });
    const marker = join(store.layout.locks, 'prune-running.json');
    await writeFile(marker, encodeChecked(currentOwner()));
    let settled = false;
    const adding = lease.add({ records: [sha256Digest('during prune')] }, signal).then(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(settled).toBe(false);
    // The add was written before it waited: a prune reading leases now sees it.
    expect((await store.leases.list())[0]?.records).toEqual([sha256Digest('during prune')]);
    await rm(marker);
    await adding;
    const dead = spawnSync('true').pid;
    await writeFile(marker, encodeChecked({ pid: dead, start: 1 }));
    await lease.add({ records: [sha256Digest('after a killed prune')] }, signal);
    await store.prune({ signal });
    await expect(readdir(store.layout.locks)).resolves.not.toContain('prune-running.json');
  });

  it('drops leases of dead processes', async () => {
    const dead = spawnSync('true').pid;
    await writeFile(join(store.layout.leases, 'dead.json'), '');
    const lease = await store.leases.create({ signal, id: 'gone' });
    const record = { ...lease.resources, owner: { pid: dead, start: 1 } };
    await store.leases.write(record, signal);
    await store.prune({ signal });
    expect(await store.leases.list()).toEqual([]);
  });

  it('removes least recently used records until keepStorage is met, and filters by until', async () => {
    const [k0, k1, k2] = [sha256Digest('k0'), sha256Digest('k1'), sha256Digest('k2')];
    for (const key of [k0, k1, k2]) {
      await store.records.save(key, { snapshot: await snapshot(1000) }, signal);
      await tick();
    }
    await store.records.load(k0, { signal }); // k0 becomes the most recent
    await tick();
    const report = await store.prune({ signal, keepStorage: 2000 });
    expect(report).toMatchObject({ records: 1, snapshots: 1, reclaimedBytes: 1000 });
    expect(await store.records.load(k1, { signal })).toBeUndefined();
    expect(await store.records.load(k0, { signal })).toBeDefined();

    expect(await store.prune({ signal, until: 60_000 })).toMatchObject({ records: 0 });
    await tick();
    expect(await store.prune({ signal, until: 1 })).toMatchObject({ records: 2 });
  });

  it('sweeps what crashes leave: half-committed dirs, dead actives, temp files, broken records', async () => {
    await mkdir(join(store.layout.snapshots, 'abc123'));
    await writeFile(join(store.layout.tmp, '999999999-0-deadbeef'), 'partial');
    await mkdir(join(store.layout.snapshotActive, 'zzz999'));
    await writeFile(join(store.layout.snapshotActive, 'zzz999', 'owner.json'), '');
    await store.records.save(sha256Digest('broken'), { snapshot: 'qqq111' }, signal);
    await tick();
    const report = await store.prune({ signal });
    expect(report.records).toBe(1);
    expect(await readdir(store.layout.tmp)).toEqual([]);
    expect((await readdir(store.layout.snapshots)).sort()).toEqual(['_active', '_meta', '_trash']);
  });

  it('reports disk usage per record', async () => {
    const key = sha256Digest('du');
    const layer = await blob('0123456789');
    await store.records.save(
      key,
      { snapshot: await snapshot(100), blobs: [layer], description: 'RUN make' },
      signal,
    );
    const usage = await store.diskUsage(signal);
    expect(usage.records).toEqual([
      expect.objectContaining({
        key,
        description: 'RUN make',
        bytes: 110,
        chargedBytes: 110,
        chargedPinned: false,
        shared: false,
        inUse: false,
      }),
    ]);
    expect(usage).toMatchObject({
      totalBytes: 110,
      reclaimableBytes: 110,
      blobs: { count: 1, bytes: 10 },
    });
  });
});
