import { type Digest, mapLimit, sha256Digest } from '../core/index.js';
import { type BlobSource, type PushBlobResult, pushBlob } from './blob-push.js';
import type { RegistryClient } from './client.js';
import type { Descriptor, Platform } from './manifest-types.js';
import { MEDIA_TYPES } from './media-types.js';
import { putManifest } from './manifests.js';
import type { RepositoryRef } from './reference.js';

/**
 * Whole images: blobs (config and layers, in parallel), then the manifest by digest, then
 * each tag. Indexes are pushed after their child manifests. Docker schema2 or OCI types.
 */

export interface LayerSource extends BlobSource {
  /** Any Docker or OCI layer type; translated to the chosen family. */
  readonly mediaType: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface PushImageInput {
  readonly config: BlobSource;
  readonly layers: readonly LayerSource[];
  readonly ociMediaTypes: boolean;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A pushed image manifest and what happened to each of its blobs. */
export interface PushedImage extends PushedManifest {
  readonly blobs: ReadonlyMap<Digest, PushBlobResult>;
}

export interface PushOptions {
  readonly signal: AbortSignal;
  /** Parallel blob uploads; default 4. */
  readonly concurrency?: number;
  readonly mountFrom?: readonly string[];
  /** Bytes sent per blob. */
  readonly onProgress?: (digest: Digest, sent: number, total: number) => void;
  readonly onBlob?: (digest: Digest, result: PushBlobResult) => void;
}

export interface PushedManifest {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly bytes: Buffer;
  readonly size: number;
}

const LAYER_TYPES: Readonly<Record<string, readonly [docker: string, oci: string]>> = {
  [MEDIA_TYPES.dockerLayerGzip]: [MEDIA_TYPES.dockerLayerGzip, MEDIA_TYPES.ociLayerGzip],
  [MEDIA_TYPES.ociLayerGzip]: [MEDIA_TYPES.dockerLayerGzip, MEDIA_TYPES.ociLayerGzip],
  [MEDIA_TYPES.dockerLayer]: [MEDIA_TYPES.dockerLayer, MEDIA_TYPES.ociLayer],
  [MEDIA_TYPES.ociLayer]: [MEDIA_TYPES.dockerLayer, MEDIA_TYPES.ociLayer],
};

/** A layer type in the Docker or OCI family (zstd and unknown types are left alone). */
export function convertLayerMediaType(mediaType: string, oci: boolean): string {
  const pair = LAYER_TYPES[mediaType];
  return pair === undefined ? mediaType : pair[oci ? 1 : 0];
}

/** Serialises an image manifest the way it will be stored; its digest is sha256 of these bytes. */
export function buildImageManifest(input: PushImageInput): PushedManifest {
  const oci = input.ociMediaTypes;
  const mediaType = oci ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: oci ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig,
      digest: input.config.digest,
      size: input.config.size,
    },
    layers: input.layers.map((layer) => ({
      mediaType: convertLayerMediaType(layer.mediaType, oci),
      digest: layer.digest,
      size: layer.size,
      ...(layer.annotations === undefined ? {} : { annotations: layer.annotations }),
    })),
    ...(oci && input.annotations !== undefined ? { annotations: input.annotations } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2));
  return { digest: sha256Digest(bytes), mediaType, bytes, size: bytes.length };
}

async function putWithTags(
  client: RegistryClient,
  repo: RepositoryRef,
  manifest: PushedManifest,
  tags: readonly string[],
  signal: AbortSignal,
): Promise<void> {
  await putManifest(client, repo, manifest.digest, manifest, signal);
  for (const tag of tags) await putManifest(client, repo, tag, manifest, signal);
}

/** Pushes config and layers, then the manifest by digest and under each tag. */
export async function pushImage(
  client: RegistryClient,
  repo: RepositoryRef,
  input: PushImageInput,
  tags: readonly string[],
  options: PushOptions,
): Promise<PushedImage> {
  const manifest = buildImageManifest(input);
  // One upload per digest even if a layer repeats.
  const unique = [...new Map([input.config, ...input.layers].map((b) => [b.digest, b])).values()];
  const results = await mapLimit(
    unique,
    options.concurrency ?? 4,
    (blob, _index, signal) =>
      pushBlob(client, repo, blob, {
        signal,
        ...(options.mountFrom === undefined ? {} : { mountFrom: options.mountFrom }),
        onProgress: (sent, total) => options.onProgress?.(blob.digest, sent, total),
      }).then((result) => {
        options.onBlob?.(blob.digest, result);
        return result;
      }),
    options.signal,
  );
  await putWithTags(client, repo, manifest, tags, options.signal);
  return {
    ...manifest,
    blobs: new Map(unique.map((b, i) => [b.digest, results[i] ?? 'uploaded'])),
  };
}

/** Pushes an index over manifests already in `repo`. */
export async function pushIndex(
  client: RegistryClient,
  repo: RepositoryRef,
  manifests: readonly (PushedManifest & { readonly platform: Platform })[],
  tags: readonly string[],
  options: { readonly signal: AbortSignal; readonly ociMediaTypes: boolean },
): Promise<PushedManifest> {
  const mediaType = options.ociMediaTypes ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerManifestList;
  const entries: Descriptor[] = manifests.map((m) => ({
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.size,
    platform: m.platform,
  }));
  const bytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType, manifests: entries }, null, 2),
  );
  const index = { digest: sha256Digest(bytes), mediaType, bytes, size: bytes.length };
  await putWithTags(client, repo, index, tags, options.signal);
  return index;
}
