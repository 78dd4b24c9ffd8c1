import { isDigest, type Descriptor, type Digest } from '../../core/index.js';
import type { RemoteLayer } from '../engine/index.js';
import type { CacheConfig, CacheRecordEntry } from './format.js';

/**
 * The inline cache: records kept in the pushed image's own config, under this
 * field, so the image itself works as a `--cache-from` (as BuildKit's
 * `moby.buildkit.cache.v0`). Each record names a prefix of the image's layers
 * (min mode: the image's own steps), by index into the manifest's layers.
 */
export const INLINE_CACHE_FIELD = 'tbuild.cache.v1';

export interface InlineCache {
  readonly records: readonly CacheRecordEntry[];
}

/** The inline value for an image whose layers' diffIDs are `imageDiffIds`: each record a prefix of them. */
export function inlineCacheValue(
  records: ReadonlyMap<Digest, readonly RemoteLayer[]>,
  imageDiffIds: readonly Digest[],
): InlineCache {
  const entries: CacheRecordEntry[] = [];
  for (const key of [...records.keys()].sort()) {
    const chain = records.get(key) ?? [];
    const isPrefix =
      chain.length <= imageDiffIds.length &&
      chain.every((layer, index) => layer.diffId === imageDiffIds[index]);
    if (isPrefix) entries.push({ key, layers: chain.map((_layer, index) => index) });
  }
  return { records: entries };
}

/** The cache an image config carries inline, or undefined when it carries none. */
export function readInlineCache(
  layers: readonly Descriptor[],
  configBytes: Buffer,
): CacheConfig | undefined {
  let config: unknown;
  try {
    config = JSON.parse(configBytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const record = config as {
    [INLINE_CACHE_FIELD]?: { records?: unknown };
    rootfs?: { diff_ids?: unknown };
  } | null;
  const inline = record?.[INLINE_CACHE_FIELD]?.records;
  const diffIds = record?.rootfs?.diff_ids;
  if (!Array.isArray(inline) || !Array.isArray(diffIds) || diffIds.length !== layers.length)
    return undefined;
  if (!diffIds.every((diffId) => isDigest(diffId))) return undefined;
  const entries: CacheRecordEntry[] = [];
  for (const entry of inline as unknown[]) {
    const candidate = entry as Partial<CacheRecordEntry> | null;
    if (
      candidate === null ||
      typeof candidate !== 'object' ||
      !isDigest(candidate.key) ||
      !Array.isArray(candidate.layers) ||
      !(candidate.layers as unknown[]).every(
        (at) => typeof at === 'number' && Number.isInteger(at) && at >= 0 && at < layers.length,
      )
    )
      return undefined;
    entries.push({ key: candidate.key, layers: candidate.layers });
  }
  return {
    schema: 'tbuild.cache.v1',
    layers: layers.map((descriptor, index) => ({
      descriptor,
      diffId: diffIds[index] as Digest,
    })),
    records: entries,
  };
}
