import { Readable } from 'node:stream';
import {
  mapLimit,
  MEDIA_TYPES,
  sha256Digest,
  TbuildError,
  type Descriptor,
  type Digest,
  type ImageConfig,
} from '../../core/index.js';
import { Sha256Stream } from '../../runtime/index.js';
import { buildManifest, type ImageBundle, type LayerBlob } from '../exporters/index.js';
import { upperDirTarChunks } from '../layers/index.js';
import { gzipParallel, type ThreadPool } from '../threads/index.js';
import { stampHistory } from './history-times.js';
import { blobIntact, checkLayerDiffId, recordedDiffId } from './layer-diff.js';
import { zstdCompress } from './zstd.js';
import { LAYER_LABELS } from './ops/image-source.js';
import type { SnapshotRef } from './refs.js';
import type { BuildStore } from './store.js';

export type LayerCompression = 'gzip' | 'zstd' | 'uncompressed';

/** What a layer blob is made with; a blob is made once per snapshot and these. */
export interface LayerSettings {
  readonly compression: LayerCompression;
  readonly compressionLevel?: number;
  /** Clamps file times in new layers and sets `created` (reproducible builds). */
  readonly sourceDateEpoch?: number;
}

interface LayerOptions extends LayerSettings {
  readonly store: BuildStore;
  readonly pool: ThreadPool;
  readonly signal: AbortSignal;
}

export interface ImageExportOptions extends LayerOptions {
  readonly ociMediaTypes: boolean;
  /** The manifest's annotations (`--annotation`). */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Settles when a layer being made ahead of export is done (LayerPrefetcher). */
  readonly madeAhead?: (snapshot: string) => Promise<void>;
}

/** Layers made at once on export; the compression of each is spread on the threads anyway. */
const LAYER_EXPORT_CONCURRENCY = 4;
/** Tar chunks (~1 MiB each) a layer's diffID hashing may lag behind the tar. */
const DIFF_HASH_AHEAD = 4;

/**
 * Turns a result into an image in the content store: one layer blob per
 * snapshot of its chain (made once per snapshot and compression, then reused;
 * base-image layers keep their original blobs), the config with the layers'
 * diff ids, and the manifest. Returns the bundle the exporters write.
 */
export async function exportImage(
  ref: SnapshotRef,
  config: Omit<ImageConfig, 'rootfs'>,
  options: ImageExportOptions,
): Promise<ImageBundle> {
  const chain =
    ref.snapshot === undefined ? [] : (await options.store.snapshots.chain(ref.snapshot)).reverse();
  // Several layers at once: each is a tree walk here, compression on the threads and
  // an fsync of its blob, which overlap (a 40-step chain exported in half the time).
  const layers = await mapLimit(
    chain,
    LAYER_EXPORT_CONCURRENCY,
    async (snapshot, _index, signal) => {
      await options.madeAhead?.(snapshot.id);
      return makeLayerBlob(snapshot.id, snapshot.labels, { ...options, signal });
    },
    options.signal,
  );

  // Times from the layers' snapshots (or SOURCE_DATE_EPOCH): a cached rebuild gives the same digest.
  const { history, created } = stampHistory(
    config.history ?? [],
    chain.map((snapshot) => snapshot.createdAt),
    options.sourceDateEpoch,
  );
  const imageConfig: ImageConfig = {
    ...config,
    created,
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    ...(history.length === 0 ? {} : { history }),
  };
  const configBytes = Buffer.from(JSON.stringify(imageConfig));
  const { manifest, config: configBlob } = buildManifest({
    config: configBytes,
    layers: layers.map((layer) => withMediaType(layer.descriptor, options.ociMediaTypes)),
    ociMediaTypes: options.ociMediaTypes,
    ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
  });
  await options.store.content.writeBuffer(configBlob.bytes, {
    signal: options.signal,
    expected: { digest: configBlob.descriptor.digest },
  });
  await options.store.content.writeBuffer(manifest.bytes, {
    signal: options.signal,
    expected: { digest: manifest.descriptor.digest },
  });
  const blobs = layers.map((layer): LayerBlob => ({
    descriptor: withMediaType(layer.descriptor, options.ociMediaTypes),
    open: () =>
      lazyStream(() =>
        options.store.content.readStream(layer.descriptor.digest, { signal: options.signal }),
      ),
  }));
  return { manifest, config: configBlob, layers: blobs };
}

/** The blob of one snapshot's layer: reused when known, otherwise tarred, compressed and stored. */
export async function makeLayerBlob(
  snapshot: string,
  labels: Readonly<Record<string, string>>,
  options: LayerOptions,
): Promise<{ descriptor: Descriptor; diffId: Digest }> {
  const fromImage = labels[LAYER_LABELS.digest];
  const fromImageDiff = labels[LAYER_LABELS.diffId];
  const fromImageType = labels[LAYER_LABELS.mediaType] ?? '';
  if (
    fromImage !== undefined &&
    fromImageDiff !== undefined &&
    compressionOf(fromImageType) === options.compression
  ) {
    const info = await options.store.content.info(fromImage as Digest);
    if (info !== undefined) {
      return {
        descriptor: { mediaType: fromImageType, digest: info.digest, size: info.size },
        diffId: fromImageDiff as Digest,
      };
    }
  }
  const key = sha256Digest(
    `tbuild.layer-blob.v1 ${snapshot} ${options.compression} ${String(options.compressionLevel ?? 6)} ${String(options.sourceDateEpoch ?? '')}`,
  );
  const record = await options.store.records.load(key, { signal: options.signal });
  const known = record?.blobs?.[0];
  const knownDiff = record?.data?.['diffId'];
  if (
    known !== undefined &&
    typeof knownDiff === 'string' &&
    // Verified, not just present: a damaged blob is removed here and the layer made again.
    (await blobIntact(options.store, known.digest, options.signal))
  ) {
    return { descriptor: known, diffId: knownDiff as Digest };
  }
  // What the layer's tar hashed to when first made: a tar made again must match it.
  const expectedDiff =
    typeof knownDiff === 'string'
      ? (knownDiff as Digest)
      : await recordedDiffId(options.store, snapshot, options.sourceDateEpoch, options.signal);

  await options.store.snapshots.ensureIntact(snapshot, { signal: options.signal });
  // The diffID is hashed on libuv threads, so this thread only makes the tar. Tar
  // chunks are never written again once yielded, so they can be hashed while they
  // travel on; gzip hashes its blocks itself, before they move to its threads.
  const diffHash = new Sha256Stream();
  const tar = upperDirTarChunks(options.store.snapshots.path(snapshot), {
    signal: options.signal,
    ...(options.sourceDateEpoch === undefined ? {} : { sourceDateEpoch: options.sourceDateEpoch }),
  });
  async function* hashed(): AsyncGenerator<Uint8Array> {
    const hashing: Promise<void>[] = [];
    for await (const chunk of tar) {
      hashing.push(diffHash.update(chunk));
      // A bounded queue: the tar never runs more than a few chunks ahead of its hash.
      if (hashing.length > DIFF_HASH_AHEAD) await hashing.shift();
      yield chunk;
    }
  }
  const level = options.compressionLevel;
  const body =
    options.compression === 'gzip'
      ? gzipParallel(tar, {
          pool: options.pool,
          signal: options.signal,
          digest: diffHash,
          ...(level === undefined ? {} : { level }),
        })
      : options.compression === 'zstd'
        ? zstdCompress(hashed(), {
            signal: options.signal,
            ...(level === undefined ? {} : { level }),
          })
        : hashed();
  const written = await options.store.content.writeStream(Readable.from(body), {
    signal: options.signal,
  });
  const diffId = `sha256:${await diffHash.digest()}` as Digest;
  const descriptor: Descriptor = {
    mediaType: LAYER_MEDIA_TYPES[options.compression],
    digest: written.digest,
    size: written.size,
  };
  await checkLayerDiffId(
    options.store,
    {
      snapshot,
      sourceDateEpoch: options.sourceDateEpoch,
      found: diffId,
      expected: expectedDiff,
    },
    options.signal,
  );
  await options.store.records.save(
    key,
    { blobs: [descriptor], data: { diffId }, description: `layer of snapshot ${snapshot}` },
    options.signal,
  );
  return { descriptor, diffId };
}

const LAYER_MEDIA_TYPES: Record<LayerCompression, string> = {
  gzip: MEDIA_TYPES.ociLayerGzip,
  zstd: MEDIA_TYPES.ociLayerZstd,
  uncompressed: MEDIA_TYPES.ociLayer,
};

function compressionOf(mediaType: string): LayerCompression | 'other' {
  if (mediaType.endsWith('gzip')) return 'gzip';
  if (mediaType.endsWith('zstd')) return 'zstd';
  if (mediaType.endsWith('.tar') || mediaType === 'application/vnd.docker.image.rootfs.diff.tar')
    return 'uncompressed';
  return 'other';
}

/** The layer media type in the manifest's family (OCI or Docker). */
function withMediaType(descriptor: Descriptor, oci: boolean): Descriptor {
  const compression = compressionOf(descriptor.mediaType);
  if (compression === 'other') {
    throw new TbuildError(
      'TB_IMAGE_INVALID',
      `cannot export a layer of type ${descriptor.mediaType}`,
    );
  }
  if (compression === 'zstd' && !oci) {
    throw new TbuildError('TB_USAGE', 'zstd layers need OCI media types', {
      hint: 'drop oci-mediatypes=false, or use compression=gzip',
    });
  }
  const mediaType = oci
    ? LAYER_MEDIA_TYPES[compression]
    : compression === 'gzip'
      ? MEDIA_TYPES.dockerLayerGzip
      : 'application/vnd.docker.image.rootfs.diff.tar';
  return { ...descriptor, mediaType };
}

/** A stream that opens its source only when first read. */
function lazyStream(open: () => Promise<Readable>): Readable {
  return Readable.from(
    (async function* () {
      for await (const chunk of await open()) yield chunk as Uint8Array;
    })(),
  );
}
