import { type Digest, TbuildError, isDigest } from '../core/index.js';
import { MEDIA_TYPES, isImageManifestMediaType, isIndexMediaType } from './media-types.js';

/** Descriptors, image manifests and indexes (OCI image-spec; Docker schema2 has the same shape). */

export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly urls?: readonly string[];
  readonly artifactType?: string;
}

export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly subject?: Descriptor;
  readonly artifactType?: string;
}

export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly manifests: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export type ParsedManifest =
  | { readonly kind: 'manifest'; readonly manifest: ImageManifest }
  | { readonly kind: 'index'; readonly index: ImageIndex };

function bad(what: string, why: string): TbuildError {
  return new TbuildError('TB_REGISTRY_MANIFEST', `${what}: ${why}`);
}

function checkDescriptor(value: unknown, what: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (typeof d !== 'object' || d === null) throw bad(what, 'a descriptor is not an object');
  if (typeof d.mediaType !== 'string') throw bad(what, 'a descriptor has no mediaType');
  if (!isDigest(d.digest))
    throw bad(what, `a descriptor has an invalid digest "${String(d.digest)}"`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw bad(what, `descriptor ${d.digest} has an invalid size`);
  }
  return d as Descriptor;
}

/**
 * Parses manifest bytes. `contentType` (params stripped) wins over the body's own
 * `mediaType`, which OCI makes optional; schema1 is refused.
 */
export function parseManifest(
  bytes: Buffer,
  contentType: string | undefined,
  what: string,
): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw bad(what, 'the manifest is not valid JSON');
  }
  if (typeof json !== 'object' || json === null)
    throw bad(what, 'the manifest is not a JSON object');
  const body = json as {
    mediaType?: unknown;
    schemaVersion?: unknown;
    manifests?: unknown;
    layers?: unknown;
    config?: unknown;
  };
  const declared = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  const header = contentType?.split(';')[0]?.trim();
  const useful = (t: string | undefined): t is string =>
    t !== undefined && t !== '' && t !== 'application/json' && t !== 'application/octet-stream';
  let mediaType = useful(header) ? header : declared;
  if (mediaType === undefined)
    mediaType = Array.isArray(body.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest;
  if (body.schemaVersion !== 2) {
    throw bad(
      what,
      `schemaVersion ${String(body.schemaVersion)} is not supported (schema1 images are obsolete)`,
    );
  }
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(body.manifests)) throw bad(what, 'an index without "manifests"');
    const manifests = body.manifests.map((m) => checkDescriptor(m, what));
    return { kind: 'index', index: { ...(json as ImageIndex), mediaType, manifests } };
  }
  if (isImageManifestMediaType(mediaType)) {
    const layers = Array.isArray(body.layers)
      ? body.layers.map((l) => checkDescriptor(l, what))
      : [];
    const config = checkDescriptor(body.config, what);
    return {
      kind: 'manifest',
      manifest: { ...(json as ImageManifest), mediaType, config, layers },
    };
  }
  throw bad(what, `unsupported manifest media type "${mediaType}"`);
}
