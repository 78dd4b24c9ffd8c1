import { isDigest, type Descriptor, type Digest } from '../../core/index.js';

/**
 * The media type of an image the local store holds without a manifest: a
 * tbuild-only JSON document in the content store that an image name can point
 * at instead of a manifest. It never leaves the root (push and the archives
 * send a manifest made from it).
 */
export const IMAGE_DESCRIPTION_MEDIA_TYPE = 'application/vnd.tbuild.image.v1+json';

/** How the image's manifest is made when something asks for one (push, `tbuild push` later). */
export interface ManifestSettings {
  readonly compression: 'gzip' | 'zstd' | 'uncompressed';
  readonly compressionLevel?: number;
  readonly ociMediaTypes: boolean;
  /** The manifest's annotations (`--annotation`). */
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * One layer of a described image, by its diffID. At least one of `snapshot`
 * and `blob` is there: a layer built here has its snapshot (its blob is made
 * when needed, once per compression, and found by the snapshot); a layer may
 * also be known by a blob only (a remote cache hit not yet pulled), and a base
 * image's layer has both.
 */
export interface DescribedLayer {
  readonly diffId: Digest;
  /** The layer's snapshot (its parent is the layer below). */
  readonly snapshot?: string;
  /** A blob of the layer known when the image was made (a base image's own blob). */
  readonly blob?: Descriptor;
  /** Bytes of the layer's files (its snapshot's), or of its blob when it has no snapshot. */
  readonly size: number;
}

/**
 * An image as the local store keeps it after a build: its config (in the
 * content store; its digest is the image ID), its layers as snapshots with
 * their diffIDs, and the manifest it gets when one is asked for. GC keeps the
 * config, the snapshots and the known blobs while a name points here.
 */
export interface ImageDescription {
  readonly mediaType: typeof IMAGE_DESCRIPTION_MEDIA_TYPE;
  readonly config: Descriptor;
  readonly layers: readonly DescribedLayer[];
  /** The tar settings the diffIDs were taken with (file times clamped to it). */
  readonly sourceDateEpoch?: number;
  /** The manifest-to-be: what the output that made the image asked for. */
  readonly manifest: ManifestSettings;
}

/** Parses a description's bytes; undefined when they are not one. */
export function parseImageDescription(bytes: Uint8Array): ImageDescription | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (record['mediaType'] !== IMAGE_DESCRIPTION_MEDIA_TYPE) return undefined;
  if (!isDescriptor(record['config']) || !Array.isArray(record['layers'])) return undefined;
  const manifest = record['manifest'] as Record<string, unknown> | undefined;
  if (typeof manifest !== 'object' || typeof manifest['ociMediaTypes'] !== 'boolean')
    return undefined;
  for (const layer of record['layers'] as unknown[]) {
    if (typeof layer !== 'object' || layer === null) return undefined;
    const entry = layer as Record<string, unknown>;
    if (!isDigest(entry['diffId']) || typeof entry['size'] !== 'number') return undefined;
    const snapshot = entry['snapshot'];
    const blob = entry['blob'];
    if (snapshot !== undefined && typeof snapshot !== 'string') return undefined;
    if (blob !== undefined && !isDescriptor(blob)) return undefined;
    if (snapshot === undefined && blob === undefined) return undefined;
  }
  return value as ImageDescription;
}

/** What a description keeps alive: its config and known blobs, and its snapshots. */
export function descriptionReferences(description: ImageDescription): {
  descriptors: Descriptor[];
  snapshots: string[];
} {
  const descriptors = [description.config];
  const snapshots: string[] = [];
  for (const layer of description.layers) {
    if (layer.blob !== undefined) descriptors.push(layer.blob);
    if (layer.snapshot !== undefined) snapshots.push(layer.snapshot);
  }
  return { descriptors, snapshots };
}

function isDescriptor(value: unknown): value is Descriptor {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    isDigest(record['digest']) &&
    typeof record['mediaType'] === 'string' &&
    typeof record['size'] === 'number'
  );
}
