import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { neverAborted as signal } from '../../../core/index.js';
import { openStore, type TbuildStore } from '../../../cache/index.js';
import { createThreadPool, type ThreadPool } from '../../../worker/threads/index.js';
import {
  commitImage,
  exportImage,
  makeImageManifest,
} from '../../../worker/engine/image-export.js';
import { readLocalImage } from '../../../worker/engine/local-images.js';
import { pushableManifest } from '../../../worker/engine/push.js';

/**
 * An image of the local store without blobs: committing it compresses no
 * layer; a manifest made of it later makes each layer's blob once per
 * settings, whose contents hash to the config's diffIDs; the image ID is the
 * one a one-go export gives.
 */
let root = '';
let store: TbuildStore;
let pool: ThreadPool;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-stored-image-'));
  store = await openStore({ root, durable: false });
  pool = createThreadPool({ maxThreads: 1 });
});

afterEach(async () => {
  await pool.close();
  await rm(root, { recursive: true, force: true });
});

async function snapshotWith(content: string, parent?: string): Promise<string> {
  const active = await store.snapshots.prepare({
    signal,
    ...(parent === undefined ? {} : { parent }),
  });
  await writeFile(join(active.upperdir, 'file'), content);
  return (await store.snapshots.commit(active.id, { signal })).id;
}

async function blobs(): Promise<Set<string>> {
  const found = new Set<string>();
  await store.content.walk((info) => void found.add(info.digest), { signal });
  return found;
}

const CONFIG = { architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] } };
const GZIP_OCI = { compression: 'gzip', ociMediaTypes: true } as const;

describe('images of the local store', () => {
  it('are committed without layer blobs; a manifest makes each blob once and reuses it', async () => {
    const base = await snapshotWith('base');
    const top = await snapshotWith('top', base);
    const ref = { kind: 'snapshot', snapshot: top } as const;
    const stored = await commitImage(ref, CONFIG, {
      store,
      pool,
      signal,
      sourceDateEpoch: 1_700_000_000,
      manifest: GZIP_OCI,
    });
    // Only the config and the description: nothing was compressed.
    expect(await blobs()).toEqual(new Set([stored.target.digest, stored.config.descriptor.digest]));
    expect(stored.description.layers.map((layer) => layer.snapshot)).toEqual([base, top]);

    const first = await makeImageManifest(stored, { store, pool, signal });
    const afterFirst = await blobs();
    expect(afterFirst.size).toBe(2 + 2 + 1);
    const diffIds = (
      JSON.parse(first.config.bytes.toString()) as { rootfs: { diff_ids: string[] } }
    ).rootfs.diff_ids;
    for (const [index, layer] of first.layers.entries()) {
      const bytes = await store.content.readBuffer(layer.descriptor.digest, { signal });
      const tar = gunzipSync(bytes);
      expect(`sha256:${createHash('sha256').update(tar).digest('hex')}`).toBe(diffIds[index]);
    }
    // The same settings again: the same manifest, no blob made.
    const again = await makeImageManifest(stored, { store, pool, signal });
    expect(again.manifest.descriptor).toEqual(first.manifest.descriptor);
    expect(await blobs()).toEqual(afterFirst);
    // Other settings: new blobs, the same config (the image ID does not depend on them).
    const zstd = await makeImageManifest(stored, {
      store,
      pool,
      signal,
      settings: { compression: 'zstd', ociMediaTypes: true },
    });
    expect(zstd.config.descriptor.digest).toBe(stored.config.descriptor.digest);
    expect((await blobs()).size).toBe(afterFirst.size + 2 + 1);

    // The one-go export names the same image and the same manifest.
    const exported = await exportImage(ref, CONFIG, {
      store,
      pool,
      signal,
      compression: 'gzip',
      sourceDateEpoch: 1_700_000_000,
      ociMediaTypes: true,
    });
    expect(exported.config.descriptor.digest).toBe(stored.config.descriptor.digest);
    expect(exported.manifest.descriptor.digest).toBe(first.manifest.descriptor.digest);
  });

  it('are read by name through their description; a push makes their manifest-to-be and the name keeps it', async () => {
    const top = await snapshotWith('only');
    const stored = await commitImage({ kind: 'snapshot', snapshot: top }, CONFIG, {
      store,
      pool,
      signal,
      manifest: { compression: 'gzip', ociMediaTypes: false },
    });
    const name = 'example.com/app:1';
    await store.images.put(name, stored.target);
    const before = await readLocalImage(store, name, signal);
    expect(before?.configDescriptor.digest).toBe(stored.config.descriptor.digest);
    expect(before?.manifestDigest).toBeUndefined();
    expect(before?.description?.layers[0]?.snapshot).toBe(top);

    const manifest = await pushableManifest(store, pool, stored.target, name, signal);
    expect(manifest.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    await store.images.addManifest(name, stored.target.digest, manifest);
    const after = await readLocalImage(store, name, signal);
    expect(after?.manifestDigest).toBe(manifest.digest);
    // Another push makes nothing new.
    const count = (await blobs()).size;
    expect(await pushableManifest(store, pool, stored.target, name, signal)).toEqual(manifest);
    expect((await blobs()).size).toBe(count);
  });
});
