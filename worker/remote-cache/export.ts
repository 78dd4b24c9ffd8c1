import { Readable } from 'node:stream';
import { mapLimit, sha256Digest, type Descriptor, type Digest } from '../../core/index.js';
import { convertLayerMediaType } from '../../registry-client/index.js';
import type { Vertex } from '../../solver/index.js';
import {
  makeLayerBlob,
  type BuildStore,
  type RemoteBlobSource,
  type RemoteLayer,
} from '../engine/index.js';
import type { ThreadPool } from '../threads/index.js';
import type { ImportedCache } from './import.js';
import type { CacheLayerSettings, CacheMode } from './types.js';

/** Layers made at once while collecting records (each a tar and compression on the threads). */
const LAYER_CONCURRENCY = 4;

/** A blob of the cache to write, and where its bytes are read from. */
export interface CacheBlob {
  readonly descriptor: Descriptor;
  /** Reads the bytes (the content store, or the imported cache that holds them). */
  readonly open: (signal: AbortSignal) => Readable;
  /** The imported cache holding it, when it is not in the local store (a cross-repository mount). */
  readonly from?: RemoteBlobSource;
}

export interface CollectedCache {
  /** Each exported key's layer chain, base first. */
  readonly records: ReadonlyMap<Digest, readonly RemoteLayer[]>;
  /** Every layer blob the records use, once. */
  readonly blobs: ReadonlyMap<Digest, CacheBlob>;
  /** Explanations of the records' keys to carry with them (CacheConfig.explanations). */
  readonly explanations?: readonly unknown[];
  /** `cache-mounts=true`: each cache mount id's layer (its blob is in `blobs`). */
  readonly cacheMounts?: ReadonlyMap<string, RemoteLayer>;
}

export interface CollectOptions extends CacheLayerSettings {
  readonly store: BuildStore;
  readonly pool: ThreadPool;
  readonly imports: readonly ImportedCache[];
  readonly signal: AbortSignal;
  /** SOURCE_DATE_EPOCH of the build, so layers are the build's own blobs. */
  readonly sourceDateEpoch?: number;
}

/**
 * The vertices a cache of `mode` exports: `max` every one with a key, `min`
 * the final image's own steps (the root and, down its chain of bases, each step
 * whose result the next one builds on).
 */
export function cachedVertices(
  root: Vertex | undefined,
  keys: ReadonlyMap<Digest, { readonly vertex: Vertex; readonly key: Digest }>,
  mode: CacheMode,
): Digest[] {
  if (mode === 'max') return [...new Set([...keys.values()].map((entry) => entry.key))];
  const chosen: Digest[] = [];
  for (let vertex = root; vertex !== undefined; vertex = baseOf(vertex)) {
    const key = keys.get(vertex.digest)?.key;
    if (key !== undefined) chosen.push(key);
  }
  return chosen;
}

/** The input a step's result is layered on, if any. */
function baseOf(vertex: Vertex): Vertex | undefined {
  const op = vertex.op;
  switch (op.kind) {
    case 'exec': {
      const root = op.mounts.find(
        (mount) => mount.type === 'bind' && mount.target === '/' && mount.output,
      );
      const input = root?.type === 'bind' ? root.input : undefined;
      return input === undefined ? undefined : vertex.inputs[input];
    }
    case 'file':
      return op.base === undefined ? undefined : vertex.inputs[op.base];
    case 'merge':
    case 'source':
      return undefined;
  }
}

/**
 * The records of `keys` with their layer chains: from the local key index (a
 * layer blob made or reused per snapshot with the cache's compression), else
 * from an imported cache (the blobs stay where they are until written). Keys
 * found in neither are left out.
 */
export async function collectRecords(
  keys: readonly Digest[],
  options: CollectOptions,
): Promise<CollectedCache> {
  const records = new Map<Digest, readonly RemoteLayer[]>();
  const blobs = new Map<Digest, CacheBlob>();
  const layerOf = new Map<string, Promise<RemoteLayer>>();
  const local = (descriptor: Descriptor): CacheBlob => ({
    descriptor,
    open: (signal) =>
      lazyStream(() => options.store.content.readStream(descriptor.digest, { signal })),
  });
  const snapshotLayer = (id: string, labels: Readonly<Record<string, string>>) => {
    let layer = layerOf.get(id);
    if (layer === undefined) {
      layer = makeLayerBlob(id, labels, {
        store: options.store,
        pool: options.pool,
        signal: options.signal,
        compression: options.compression,
        ...(options.compressionLevel === undefined
          ? {}
          : { compressionLevel: options.compressionLevel }),
        ...(options.sourceDateEpoch === undefined
          ? {}
          : { sourceDateEpoch: options.sourceDateEpoch }),
      }).then(({ descriptor, diffId }) => ({
        descriptor: {
          ...descriptor,
          mediaType: convertLayerMediaType(descriptor.mediaType, options.ociMediaTypes),
        },
        diffId,
      }));
      layerOf.set(id, layer);
    }
    return layer;
  };
  await mapLimit(
    keys,
    LAYER_CONCURRENCY,
    async (key, _index, signal) => {
      const record = await options.store.records.load(key, { signal, touch: false });
      if (record !== undefined) {
        if (record.snapshot === undefined) {
          if (record.data?.['scratch'] === true) records.set(key, []);
          return;
        }
        const chain = await options.store.snapshots.chain(record.snapshot).catch(() => undefined);
        if (chain !== undefined) {
          const layers = await Promise.all(
            chain.reverse().map((snapshot) => snapshotLayer(snapshot.id, snapshot.labels)),
          );
          for (const layer of layers) blobs.set(layer.descriptor.digest, local(layer.descriptor));
          records.set(key, layers);
          return;
        }
      }
      for (const imported of options.imports) {
        const found = imported.lookup(key);
        if (found === undefined) continue;
        for (const layer of found.layers) {
          if (blobs.has(layer.descriptor.digest)) continue;
          const here = await options.store.content.info(layer.descriptor.digest);
          blobs.set(
            layer.descriptor.digest,
            here === undefined
              ? {
                  descriptor: layer.descriptor,
                  open: (readSignal) => found.source.open(layer.descriptor, readSignal),
                  from: found.source,
                }
              : local(layer.descriptor),
          );
        }
        records.set(key, found.layers);
        return;
      }
    },
    options.signal,
  );
  return { records, blobs };
}

/** The record blob's descriptor and bytes. */
export function configBlob(
  bytes: Buffer,
  mediaType: string,
): { descriptor: Descriptor; bytes: Buffer } {
  return { descriptor: { mediaType, digest: sha256Digest(bytes), size: bytes.length }, bytes };
}

/** A stream that opens its source only when first read. */
function lazyStream(open: () => Promise<Readable>): Readable {
  return Readable.from(
    (async function* () {
      for await (const chunk of await open()) yield chunk as Uint8Array;
    })(),
  );
}
