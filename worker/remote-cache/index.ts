/**
 * worker/remote-cache: build cache shared between machines through a registry
 * or a directory (`--cache-to`, `--cache-from`). Import reads a cache's record
 * blob only; its results stay lazy (RemoteRef) until something needs their
 * files. Export collects the build's keys with their layer chains and writes
 * blobs first, the manifest last.
 */
export type { CacheExportSpec, CacheImportSpec, CacheLayerSettings, CacheMode } from './types.js';
export { importCache, type ImportedCache, type ImportOptions } from './import.js';
export { importedCacheLookup } from './fallback.js';
export {
  cachedVertices,
  collectRecords,
  type CacheBlob,
  type CollectedCache,
  type CollectOptions,
} from './export.js';
export {
  writeLocalCache,
  writeRegistryCache,
  type CacheBlobProgress,
  type WriteCacheOptions,
  type WrittenCache,
} from './write.js';
export {
  CACHE_CONFIG_MEDIA_TYPE,
  decodeCacheConfig,
  encodeCacheConfig,
  type CacheConfig,
} from './format.js';
export { INLINE_CACHE_FIELD, inlineCacheValue, type InlineCache } from './inline.js';
export {
  bytesStream,
  cacheMountDirOf,
  isEmptyDirectory,
  packCacheMount,
  unpackCacheMount,
  type CacheMountLayer,
} from './cache-mounts.js';
