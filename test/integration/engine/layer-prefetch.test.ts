import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { neverAborted as signal, noopLogger } from '../../../core/index.js';
import { openStore, type TbuildStore } from '../../../cache/index.js';
import { emptyImageResolver, lowerDockerfile, parseDockerfile } from '../../../frontend/index.js';
import type { Vertex } from '../../../solver/index.js';
import { createThreadPool, type ThreadPool } from '../../../worker/threads/index.js';
import { commitImage, exportImage } from '../../../worker/engine/image-export.js';
import { recordedDiffId } from '../../../worker/engine/layer-diff.js';
import { LayerPrefetcher } from '../../../worker/engine/layer-prefetch.js';

/**
 * Layers made ahead of export: the prefetcher makes exactly the layers of the
 * exported chain, and export then finds the very blob it would have made.
 */
let root = '';
let store: TbuildStore;
let pool: ThreadPool;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-prefetch-'));
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
  await store.content.walk(
    (info) => {
      found.add(info.digest);
    },
    { signal },
  );
  return found;
}

/** Vertices of a two-stage build: the builder's RUN, the final stage's COPY and RUN. */
async function graph(): Promise<{
  root: Vertex;
  builderRun: Vertex;
  copy: Vertex;
  finalRun: Vertex;
}> {
  const parsed = parseDockerfile(
    'FROM scratch AS builder\nRUN make\nFROM scratch\nCOPY --from=builder /out /out\nRUN test\n',
    { file: 'Dockerfile' },
  );
  const lowered = await lowerDockerfile(parsed, {
    file: 'Dockerfile',
    buildArgs: new Map(),
    resolver: emptyImageResolver,
    signal,
  });
  const finalRun = lowered.root as Vertex;
  const copy = finalRun.inputs[0] as Vertex;
  const builderRun = copy.inputs.find((input) => input.op.kind === 'exec') as Vertex;
  return { root: finalRun, builderRun, copy, finalRun };
}

describe('LayerPrefetcher', () => {
  it('makes the layers of the exported chain only, and export reuses their blobs', async () => {
    const { root: target, builderRun, copy, finalRun } = await graph();
    expect([builderRun.op.kind, copy.op.kind, finalRun.op.kind]).toEqual(['exec', 'file', 'exec']);
    const prefetcher = new LayerPrefetcher({
      store,
      pool,
      settings: { compression: 'gzip' },
      blobs: true,
      root: target,
      logger: noopLogger,
    });
    const builder = await snapshotWith('builder output');
    const copied = await snapshotWith('copied');
    const last = await snapshotWith('tested', copied);
    prefetcher.committed(builderRun.digest, builder);
    prefetcher.committed(copy.digest, copied);
    prefetcher.committed(finalRun.digest, last);
    await Promise.all([builder, copied, last].map((id) => prefetcher.ready(id)));
    const blobsBefore = await blobs();
    // Two blobs made ahead (the COPY's and the final RUN's), none for the builder stage.
    expect(blobsBefore.size).toBe(2);

    const bundle = await exportImage(
      { kind: 'snapshot', snapshot: last },
      { architecture: 'amd64', os: 'linux', config: {} },
      { store, pool, compression: 'gzip', ociMediaTypes: true, signal },
    );
    expect(bundle.layers.map((layer) => blobsBefore.has(layer.descriptor.digest))).toEqual([
      true,
      true,
    ]);
    await prefetcher.close();
  });

  it('starts the threads when a step of the exported chain starts or any step idles', async () => {
    const { root: target, builderRun, copy } = await graph();
    let warmed = 0;
    const countingPool: ThreadPool = {
      size: pool.size,
      run: (name, input, signal, transfer) => pool.run(name, input, signal, transfer),
      warm: () => {
        warmed += 1;
      },
      close: () => pool.close(),
    };
    const prefetcher = new LayerPrefetcher({
      store,
      pool: countingPool,
      settings: { compression: 'gzip' },
      blobs: true,
      root: target,
      logger: noopLogger,
    });
    prefetcher.starting(builderRun.digest);
    expect(warmed).toBe(0);
    prefetcher.starting(copy.digest);
    expect(warmed).toBe(1);
    prefetcher.idle();
    expect(warmed).toBe(2);
    await prefetcher.close();
    prefetcher.starting(copy.digest);
    prefetcher.idle();
    expect(warmed).toBe(2);
  });

  it('without blobs (the local store only) records diffIDs, compresses nothing, and does not start the threads', async () => {
    const { root: target, copy, finalRun } = await graph();
    let warmed = 0;
    const countingPool: ThreadPool = {
      size: pool.size,
      run: (name, input, runSignal, transfer) => pool.run(name, input, runSignal, transfer),
      warm: () => {
        warmed += 1;
      },
      close: () => pool.close(),
    };
    const prefetcher = new LayerPrefetcher({
      store,
      pool: countingPool,
      settings: { compression: 'gzip' },
      blobs: false,
      root: target,
      logger: noopLogger,
    });
    prefetcher.starting(copy.digest);
    prefetcher.idle();
    const copied = await snapshotWith('copied');
    const last = await snapshotWith('tested', copied);
    prefetcher.committed(copy.digest, copied);
    prefetcher.committed(finalRun.digest, last);
    await Promise.all([copied, last].map((id) => prefetcher.ready(id)));
    expect(warmed).toBe(0);
    expect(await blobs()).toEqual(new Set());
    const recorded = await recordedDiffId(store, last, undefined, signal);
    expect(recorded).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The image of the store then needs no tar at all: its config names the recorded diffIDs.
    const stored = await commitImage(
      { kind: 'snapshot', snapshot: last },
      { architecture: 'amd64', os: 'linux', config: {} },
      {
        store,
        pool,
        signal,
        manifest: { compression: 'gzip', ociMediaTypes: true },
        madeAhead: (id) => prefetcher.ready(id),
      },
    );
    expect(stored.description.layers.at(-1)?.diffId).toBe(recorded);
    expect(await blobs()).toEqual(new Set([stored.target.digest, stored.config.descriptor.digest]));
    await prefetcher.close();
  });

  it('makes nothing once closed', async () => {
    const { root: target, copy } = await graph();
    const prefetcher = new LayerPrefetcher({
      store,
      pool,
      settings: { compression: 'gzip' },
      blobs: true,
      root: target,
      logger: noopLogger,
    });
    await prefetcher.close();
    const copied = await snapshotWith('copied');
    prefetcher.committed(copy.digest, copied);
    await prefetcher.ready(copied);
    expect(await blobs()).toEqual(new Set());
  });
});
