import { Readable } from 'node:stream';
import {
  MEDIA_TYPES,
  sha256Digest,
  TbuildError,
  type Descriptor,
  type Digest,
} from '../../core/index.js';
import { Sha256Stream } from '../../runtime/index.js';
import { upperDirTarChunks } from '../layers/index.js';
import { gzipParallel, type ThreadPool } from '../threads/index.js';
import { blobIntact, checkLayerDiffId, recordedDiffId } from './layer-diff.js';
import { zstdCompress } from './zstd.js';
import { LAYER_LABELS } from './ops/image-source.js';
import type { BuildStore } from './store.js';

export type LayerCompression = 'gzip' | 'zstd' | 'uncompressed';

/** What a layer blob is made with; a blob is made once per snapshot and these. */
export interface LayerSettings {
  readonly compression: LayerCompression;
  readonly compressionLevel?: number;
  /** Clamps file times in new layers and sets `created` (reproducible builds). */
  readonly sourceDateEpoch?: number;
}

export interface LayerOptions extends LayerSettings {
  readonly store: BuildStore;
  readonly pool: ThreadPool;
  readonly signal: AbortSignal;
  /**
   * How a blob made before is trusted: `verify` (default) reads it through
   * and makes it again when damaged; `present` only checks it is there (a
   * push reads it anyway when it uploads it, and reads nothing when the
   * registry has it).
   */
  readonly storedBlob?: 'verify' | 'present';
}

/** Tar chunks (~1 MiB each) a layer's diffID hashing may lag behind the tar. */
const DIFF_HASH_AHEAD = 4;

/**
 * The blob of one snapshot's layer, made when something needs its bytes (a
 * push, an archive, a cache export) and kept: one blob per snapshot and
 * settings, found again by the record `tbuild.layer-blob.v1 <snapshot>
 * <compression> <level> <epoch>`, so a layer is compressed once per settings.
 * A base image's layer (its snapshot's labels name its blob) keeps its own
 * blob when the compression matches. Pass the labels `{}` to always make the
 * blob from the snapshot. The diffID is checked against the one recorded when
 * the layer was first tarred (layer-diff.ts).
 */
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
    (options.storedBlob === 'present'
      ? (await options.store.content.info(known.digest)) !== undefined
      : await blobIntact(options.store, known.digest, options.signal))
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

export const LAYER_MEDIA_TYPES: Record<LayerCompression, string> = {
  gzip: MEDIA_TYPES.ociLayerGzip,
  zstd: MEDIA_TYPES.ociLayerZstd,
  uncompressed: MEDIA_TYPES.ociLayer,
};

export function compressionOf(mediaType: string): LayerCompression | 'other' {
  if (mediaType.endsWith('gzip')) return 'gzip';
  if (mediaType.endsWith('zstd')) return 'zstd';
  if (mediaType.endsWith('.tar') || mediaType === 'application/vnd.docker.image.rootfs.diff.tar')
    return 'uncompressed';
  return 'other';
}

/** The layer media type in the manifest's family (OCI or Docker). */
export function withMediaType(descriptor: Descriptor, oci: boolean): Descriptor {
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
