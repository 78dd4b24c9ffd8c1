import { Readable } from 'node:stream';
import {
  mapLimit,
  TbuildError,
  type Descriptor,
  type Digest,
  type ImageConfig,
} from '../../core/index.js';
import {
  IMAGE_DESCRIPTION_MEDIA_TYPE,
  type DescribedLayer,
  type ImageDescription,
  type ManifestSettings,
} from '../../cache/index.js';
import {
  buildManifest,
  serializeBlob,
  type ImageBundle,
  type LayerBlob,
  type SerializedBlob,
} from '../exporters/index.js';
import type { ThreadPool } from '../threads/index.js';
import { stampHistory } from './history-times.js';
import { layerDiffId } from './layer-diffid.js';
import { compressionOf, makeLayerBlob, withMediaType, type LayerSettings } from './layer-blob.js';
import { LAYER_LABELS } from './ops/image-source.js';
import type { RemoteRef, SnapshotRef } from './refs.js';
import type { BuildStore } from './store.js';

export {
  compressionOf,
  makeLayerBlob,
  type LayerCompression,
  type LayerOptions,
  type LayerSettings,
} from './layer-blob.js';

/** Layers handled at once; the compression of each is spread on the threads anyway. */
const LAYER_EXPORT_CONCURRENCY = 4;

interface StoreAccess {
  readonly store: BuildStore;
  readonly pool: ThreadPool;
  readonly signal: AbortSignal;
  /** Settles when a layer being made ahead of export is done (LayerPrefetcher). */
  readonly madeAhead?: (snapshot: string) => Promise<void>;
}

export interface ImageExportOptions extends LayerSettings, StoreAccess {
  readonly ociMediaTypes: boolean;
  /** The manifest's annotations (`--annotation`). */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An image of the local store as a build leaves it: config and layers, no manifest yet. */
export interface StoredImage {
  /** What an image name points at: the description's descriptor. */
  readonly target: Descriptor;
  readonly description: ImageDescription;
  /** The config; its digest is the image ID. */
  readonly config: SerializedBlob;
}

/**
 * Turns a result into an image of the local store without compressing any
 * layer: the config (with the layers' diffIDs, made by tarring and hashing a
 * layer only when no diffID was recorded for it) and the description (the
 * layers' snapshots and the manifest-to-be, `manifest`), both written to the
 * content store. makeImageManifest makes the blobs and the manifest when
 * something needs them. A base image's layer whose own blob has the
 * compression asked for keeps that blob (and its diffID).
 */
export async function commitImage(
  ref: SnapshotRef,
  config: Omit<ImageConfig, 'rootfs'>,
  options: StoreAccess & {
    readonly sourceDateEpoch?: number;
    readonly manifest: ManifestSettings;
  },
): Promise<StoredImage> {
  const { store } = options;
  const chain =
    ref.snapshot === undefined ? [] : (await store.snapshots.chain(ref.snapshot)).reverse();
  const layers = await mapLimit(
    chain,
    LAYER_EXPORT_CONCURRENCY,
    async (snapshot, _index, signal): Promise<DescribedLayer> => {
      await options.madeAhead?.(snapshot.id);
      const size = snapshot.tree.bytes;
      const own = await baseLayerBlob(store, snapshot.labels, options.manifest.compression);
      if (own !== undefined)
        return { diffId: own.diffId, snapshot: snapshot.id, blob: own.blob, size };
      const diffId = await layerDiffId(snapshot.id, {
        store,
        sourceDateEpoch: options.sourceDateEpoch,
        signal,
      });
      return { diffId, snapshot: snapshot.id, size };
    },
    options.signal,
  );
  // Times from the layers' snapshots (or SOURCE_DATE_EPOCH): a cached rebuild gives the same digest.
  return writeImage(
    layers,
    chain.map((snapshot) => snapshot.createdAt),
    config,
    options,
  );
}

/**
 * A remote cache hit as an image of the local store without downloading it:
 * its layers are known by their blobs (in the cache's repository) and the
 * diffIDs the cache records, which are all the config needs. A push to the
 * same registry mounts the blobs; an archive output fetches them first
 * (fetchRemoteBlobs); a step that runs on the image extracts them.
 */
export async function commitRemoteImage(
  ref: RemoteRef,
  config: Omit<ImageConfig, 'rootfs'>,
  options: Pick<StoreAccess, 'store' | 'signal'> & {
    readonly sourceDateEpoch?: number;
    readonly manifest: ManifestSettings;
  },
): Promise<StoredImage> {
  const layers = ref.layers.map((layer): DescribedLayer => ({
    diffId: layer.diffId,
    blob: layer.descriptor,
    size: layer.descriptor.size,
  }));
  // Made now, as the snapshots extracting them would be.
  const now = Date.now();
  return writeImage(
    layers,
    layers.map(() => now),
    config,
    options,
  );
}

/** Writes an image's config and description to the content store. */
async function writeImage(
  layers: readonly DescribedLayer[],
  layerTimes: readonly number[],
  config: Omit<ImageConfig, 'rootfs'>,
  options: Pick<StoreAccess, 'store' | 'signal'> & {
    readonly sourceDateEpoch?: number;
    readonly manifest: ManifestSettings;
  },
): Promise<StoredImage> {
  const { store } = options;
  const { history, created } = stampHistory(
    config.history ?? [],
    layerTimes,
    options.sourceDateEpoch,
  );
  const imageConfig: ImageConfig = {
    ...config,
    created,
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    ...(history.length === 0 ? {} : { history }),
  };
  // The same bytes buildManifest describes, so the image ID is the pushed config's digest.
  const { config: configBlob } = buildManifest({
    config: Buffer.from(JSON.stringify(imageConfig)),
    layers: [],
    ociMediaTypes: options.manifest.ociMediaTypes,
  });
  const description: ImageDescription = {
    mediaType: IMAGE_DESCRIPTION_MEDIA_TYPE,
    config: configBlob.descriptor,
    layers,
    ...(options.sourceDateEpoch === undefined ? {} : { sourceDateEpoch: options.sourceDateEpoch }),
    manifest: options.manifest,
  };
  const described = serializeBlob(IMAGE_DESCRIPTION_MEDIA_TYPE, description);
  for (const blob of [configBlob, described]) {
    await store.content.writeBuffer(blob.bytes, {
      signal: options.signal,
      expected: { digest: blob.descriptor.digest },
    });
  }
  return { target: described.descriptor, description, config: configBlob };
}

/**
 * The manifest of a stored image with `settings` (by default its
 * manifest-to-be): each layer's blob is made now if it was not before (once
 * per snapshot and settings, see makeLayerBlob), then the manifest is written
 * to the content store. A layer known by its blob alone, or a base layer, is
 * sent as that blob whatever the settings. Returns what the exporters write.
 */
export async function makeImageManifest(
  image: Pick<StoredImage, 'description'>,
  options: StoreAccess & {
    readonly settings?: ManifestSettings;
    /** How a blob made before is trusted (makeLayerBlob's `storedBlob`). */
    readonly storedBlob?: 'verify' | 'present';
  },
): Promise<ImageBundle> {
  const { store, signal } = options;
  const { description } = image;
  const settings = options.settings ?? description.manifest;
  const layers = await mapLimit(
    description.layers,
    LAYER_EXPORT_CONCURRENCY,
    async (layer, index, layerSignal): Promise<Descriptor> => {
      if (layer.blob !== undefined) return layer.blob;
      if (layer.snapshot === undefined)
        throw new TbuildError('TB_INTERNAL', 'a layer without snapshot or blob');
      await options.madeAhead?.(layer.snapshot);
      const made = await makeLayerBlob(
        layer.snapshot,
        {},
        {
          compression: settings.compression,
          ...(settings.compressionLevel === undefined
            ? {}
            : { compressionLevel: settings.compressionLevel }),
          ...(description.sourceDateEpoch === undefined
            ? {}
            : { sourceDateEpoch: description.sourceDateEpoch }),
          store,
          pool: options.pool,
          signal: layerSignal,
          ...(options.storedBlob === undefined ? {} : { storedBlob: options.storedBlob }),
        },
      );
      if (made.diffId !== layer.diffId) throw diffIdMismatch(index, layer.diffId, made.diffId);
      return made.descriptor;
    },
    signal,
  );
  const configBytes = await store.content.readBuffer(description.config.digest, { signal });
  const { manifest, config } = buildManifest({
    config: configBytes,
    layers: layers.map((layer) => withMediaType(layer, settings.ociMediaTypes)),
    ociMediaTypes: settings.ociMediaTypes,
    ...(settings.annotations === undefined ? {} : { annotations: settings.annotations }),
  });
  await store.content.writeBuffer(manifest.bytes, {
    signal,
    expected: { digest: manifest.descriptor.digest },
  });
  return {
    manifest,
    config,
    layers: layers.map((layer): LayerBlob => ({
      descriptor: withMediaType(layer, settings.ociMediaTypes),
      open: () => lazyStream(() => store.content.readStream(layer.digest, { signal })),
    })),
  };
}

/**
 * A result as an image with a manifest in one go (commitImage, then
 * makeImageManifest with the same settings).
 */
export async function exportImage(
  ref: SnapshotRef,
  config: Omit<ImageConfig, 'rootfs'>,
  options: ImageExportOptions,
): Promise<ImageBundle> {
  const stored = await commitImage(ref, config, {
    ...options,
    manifest: manifestSettings(options),
  });
  return makeImageManifest(stored, options);
}

/** The manifest settings of layer settings and a media type family. */
export function manifestSettings(
  options: LayerSettings & {
    readonly ociMediaTypes: boolean;
    readonly annotations?: Readonly<Record<string, string>>;
  },
): ManifestSettings {
  return {
    compression: options.compression,
    ...(options.compressionLevel === undefined
      ? {}
      : { compressionLevel: options.compressionLevel }),
    ociMediaTypes: options.ociMediaTypes,
    ...(options.annotations === undefined || Object.keys(options.annotations).length === 0
      ? {}
      : { annotations: options.annotations }),
  };
}

/** A base image's own blob of a layer, when it is here and compressed as asked. */
async function baseLayerBlob(
  store: BuildStore,
  labels: Readonly<Record<string, string>>,
  compression: ManifestSettings['compression'],
): Promise<{ blob: Descriptor; diffId: Digest } | undefined> {
  const digest = labels[LAYER_LABELS.digest];
  const diffId = labels[LAYER_LABELS.diffId];
  const mediaType = labels[LAYER_LABELS.mediaType] ?? '';
  if (digest === undefined || diffId === undefined || compressionOf(mediaType) !== compression)
    return undefined;
  const info = await store.content.info(digest as Digest);
  if (info === undefined) return undefined;
  return { blob: { mediaType, digest: info.digest, size: info.size }, diffId: diffId as Digest };
}

function diffIdMismatch(index: number, expected: Digest, found: Digest): TbuildError {
  return new TbuildError(
    'TB_IMAGE_INVALID',
    `layer ${String(index + 1)} of the image: its blob holds ${found}, not the ${expected} the image config names`,
    { hint: 'build the image again (tbuild build --no-cache), or prune and build it again' },
  );
}

/** A stream that opens its source only when first read. */
function lazyStream(open: () => Promise<Readable>): Readable {
  return Readable.from(
    (async function* () {
      for await (const chunk of await open()) yield chunk as Uint8Array;
    })(),
  );
}
