import {
  isDigest,
  MEDIA_TYPES,
  TbuildError,
  type Descriptor,
  type Digest,
} from '../../core/index.js';
import type { RemoteLayer } from '../engine/index.js';

/**
 * The cache record blob: tbuild's own schema under a versioned media type.
 * It maps each cache key (the solver's content-based key, the same as the local
 * key index uses) to its result's layer chain, as indexes into `layers`, which
 * lists every layer blob the records use once (in the manifest's layer order).
 * Nothing is capped: a cache of any number of records imports.
 */
export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.tbuild.cache.config.v1+json';
const SCHEMA = 'tbuild.cache.v1';

export interface CacheRecordEntry {
  readonly key: Digest;
  /** The result's layers, base first, as indexes into the config's `layers`. */
  readonly layers: readonly number[];
}

export interface CacheConfig {
  readonly schema: typeof SCHEMA;
  readonly layers: readonly RemoteLayer[];
  readonly records: readonly CacheRecordEntry[];
  /**
   * Why each exported step last ran (solver/explain/ records, each carrying its
   * own `version`), so a machine importing the cache can explain its misses.
   * Optional: caches written before it, or with none to carry, import as before;
   * an importer skips records of a version it does not know.
   */
  readonly explanations?: readonly unknown[];
  /**
   * `cache-mounts=true`: the contents of `RUN --mount=type=cache` directories by
   * mount id, each a gzip layer listed in the manifest too. Optional, as above.
   */
  readonly cacheMounts?: Readonly<Record<string, RemoteLayer>>;
}

/** Records by key, every layer named once; sorted so the same cache is the same bytes. */
export function encodeCacheConfig(
  records: ReadonlyMap<Digest, readonly RemoteLayer[]>,
  explanations: readonly unknown[] = [],
  cacheMounts: ReadonlyMap<string, RemoteLayer> = new Map(),
): {
  config: CacheConfig;
  bytes: Buffer;
} {
  const layers: RemoteLayer[] = [];
  const index = new Map<Digest, number>();
  const entries: CacheRecordEntry[] = [];
  for (const key of [...records.keys()].sort()) {
    const chain = records.get(key) ?? [];
    entries.push({
      key,
      layers: chain.map((layer) => {
        let at = index.get(layer.descriptor.digest);
        if (at === undefined) {
          at = layers.length;
          index.set(layer.descriptor.digest, at);
          layers.push({
            descriptor: {
              mediaType: layer.descriptor.mediaType,
              digest: layer.descriptor.digest,
              size: layer.descriptor.size,
            },
            diffId: layer.diffId,
          });
        }
        return at;
      }),
    });
  }
  const config: CacheConfig = {
    schema: SCHEMA,
    layers,
    records: entries,
    ...(explanations.length === 0 ? {} : { explanations }),
    ...(cacheMounts.size === 0
      ? {}
      : {
          cacheMounts: Object.fromEntries(
            [...cacheMounts.entries()]
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([id, layer]) => [
                id,
                {
                  descriptor: {
                    mediaType: layer.descriptor.mediaType,
                    digest: layer.descriptor.digest,
                    size: layer.descriptor.size,
                  },
                  diffId: layer.diffId,
                },
              ]),
          ),
        }),
  };
  return { config, bytes: Buffer.from(JSON.stringify(config)) };
}

/** Parses and checks a record blob; anything malformed is TB_CACHE_IMPORT naming `where`. */
export function decodeCacheConfig(bytes: Buffer, where: string): CacheConfig {
  const bad = (why: string): TbuildError =>
    new TbuildError('TB_CACHE_IMPORT', `cache ${where} is not a tbuild cache: ${why}`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw bad('its record blob is not JSON');
  }
  const config = value as Partial<CacheConfig> | null;
  if (typeof config !== 'object' || config === null) throw bad('its record blob is not an object');
  if (config.schema !== SCHEMA)
    throw bad(`schema "${String(config.schema)}" is not ${SCHEMA} (made by another version?)`);
  if (!Array.isArray(config.layers) || !Array.isArray(config.records))
    throw bad('layers and records must be lists');
  for (const layer of config.layers as unknown[]) {
    const candidate = layer as Partial<RemoteLayer> | null;
    if (
      typeof candidate !== 'object' ||
      candidate === null ||
      !isDigest(candidate.diffId) ||
      !isLayerDescriptor(candidate.descriptor)
    )
      throw bad('a layer has no valid descriptor and diffId');
  }
  const count = config.layers.length;
  for (const record of config.records as unknown[]) {
    const candidate = record as Partial<CacheRecordEntry> | null;
    if (
      typeof candidate !== 'object' ||
      candidate === null ||
      !isDigest(candidate.key) ||
      !Array.isArray(candidate.layers) ||
      !(candidate.layers as unknown[]).every(
        (at) => typeof at === 'number' && Number.isInteger(at) && at >= 0 && at < count,
      )
    )
      throw bad('a record has no valid key and layer list');
  }
  // Explanations only explain: a malformed list is dropped, never a failed import.
  const { explanations, cacheMounts, ...rest } = config as CacheConfig;
  return {
    ...rest,
    ...(Array.isArray(explanations) ? { explanations } : {}),
    ...(validCacheMounts(cacheMounts) ? { cacheMounts } : {}),
  };
}

function validCacheMounts(value: unknown): value is Readonly<Record<string, RemoteLayer>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((layer: unknown) => {
    const candidate = layer as Partial<RemoteLayer> | null;
    return (
      typeof candidate === 'object' &&
      candidate !== null &&
      isDigest(candidate.diffId) &&
      isLayerDescriptor(candidate.descriptor)
    );
  });
}

function isLayerDescriptor(value: unknown): value is Descriptor {
  const descriptor = value as Partial<Descriptor> | null;
  return (
    typeof descriptor === 'object' &&
    descriptor !== null &&
    typeof descriptor.mediaType === 'string' &&
    isDigest(descriptor.digest) &&
    typeof descriptor.size === 'number' &&
    Number.isSafeInteger(descriptor.size) &&
    descriptor.size >= 0
  );
}

/**
 * The manifest that carries a cache: by default an image manifest whose config
 * is the record blob and whose layers are the cached layers (BuildKit's
 * image-manifest=true shape, which every OCI registry stores); with
 * `imageManifest` false an index listing the layers and the record blob
 * (BuildKit's older shape).
 */
export function cacheManifest(
  config: Descriptor,
  layers: readonly Descriptor[],
  imageManifest: boolean,
): { mediaType: string; bytes: Buffer } {
  if (imageManifest) {
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      artifactType: CACHE_CONFIG_MEDIA_TYPE,
      config,
      layers,
    };
    return { mediaType: MEDIA_TYPES.ociManifest, bytes: Buffer.from(JSON.stringify(manifest)) };
  }
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: [...layers, config],
  };
  return { mediaType: MEDIA_TYPES.ociIndex, bytes: Buffer.from(JSON.stringify(index)) };
}

/** The record blob and layer descriptors a fetched cache manifest names, or undefined if it is none. */
export function cacheParts(
  manifest:
    | {
        readonly kind: 'manifest';
        readonly manifest: { config: Descriptor; layers: readonly Descriptor[] };
      }
    | { readonly kind: 'index'; readonly index: { manifests: readonly Descriptor[] } },
): { config: Descriptor; layers: readonly Descriptor[] } | undefined {
  if (manifest.kind === 'manifest') {
    const { config, layers } = manifest.manifest;
    return config.mediaType === CACHE_CONFIG_MEDIA_TYPE ? { config, layers } : undefined;
  }
  const config = manifest.index.manifests.find(
    (entry) => entry.mediaType === CACHE_CONFIG_MEDIA_TYPE,
  );
  if (config === undefined) return undefined;
  return {
    config,
    layers: manifest.index.manifests.filter((entry) => entry.mediaType !== CACHE_CONFIG_MEDIA_TYPE),
  };
}
