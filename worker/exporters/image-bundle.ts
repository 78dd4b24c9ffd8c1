import type { Readable } from 'node:stream';
import {
  canonicalJson,
  MEDIA_TYPES,
  sha256Digest,
  type Descriptor,
  type Digest,
} from '../../core/index.js';

/**
 * Everything an image exporter writes: the manifest and config as bytes (their
 * digests are the image's identity, so they are serialised once, here) and the
 * layer blobs as streams opened on demand.
 */
export interface ImageBundle {
  readonly manifest: SerializedBlob;
  readonly config: SerializedBlob;
  readonly layers: readonly LayerBlob[];
}

export interface SerializedBlob {
  readonly descriptor: Descriptor;
  readonly bytes: Buffer;
}

export interface LayerBlob {
  readonly descriptor: Descriptor;
  open(): Readable;
}

/** Serialises a JSON document (sorted keys, no whitespace) and describes it. */
export function serializeBlob(mediaType: string, document: unknown): SerializedBlob {
  const bytes = Buffer.from(canonicalJson(document));
  return { descriptor: { mediaType, digest: sha256Digest(bytes), size: bytes.length }, bytes };
}

/** An image manifest over a config and layers, with OCI or Docker media types. */
export function buildManifest(options: {
  readonly config: Buffer;
  readonly layers: readonly Descriptor[];
  readonly ociMediaTypes: boolean;
  /** The manifest's `annotations` (`--annotation`); none: the field is left out. */
  readonly annotations?: Readonly<Record<string, string>>;
}): { manifest: SerializedBlob; config: SerializedBlob } {
  const configMediaType = options.ociMediaTypes ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig;
  const config: SerializedBlob = {
    descriptor: {
      mediaType: configMediaType,
      digest: sha256Digest(options.config),
      size: options.config.length,
    },
    bytes: options.config,
  };
  const manifestMediaType = options.ociMediaTypes
    ? MEDIA_TYPES.ociManifest
    : MEDIA_TYPES.dockerManifest;
  const manifest = serializeBlob(manifestMediaType, {
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: config.descriptor,
    layers: options.layers,
    // Canonical JSON sorts the keys: the same annotations always give the same digest.
    ...(options.annotations === undefined || Object.keys(options.annotations).length === 0
      ? {}
      : { annotations: options.annotations }),
  });
  return { manifest, config };
}

export function blobPath(digest: Digest): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}
