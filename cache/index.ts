/**
 * cache: everything tbuild keeps under its root (TBUILD_ROOT): the content
 * store (blobs by digest), snapshots (layer directories and parent chains),
 * the cache-key index, the local image store, leases and GC. Imports core only;
 * the worker adapts it to the solver's ResultCache. Layout: docs/dev/storage.md.
 */
export { openStore, type OpenStoreOptions, type TbuildStore } from './store.js';
export { storeLayout, blobPath, type StoreLayout } from './layout.js';
/** A name for a temp entry under the root's tmp/ that openStore removes once this process is gone. */
export { tempNameFor } from './fs/process-owner.js';
/** Writes a file so readers see the old one or the whole new one (temp file in tmp/, then rename). */
export { writeFileAtomic } from './fs/atomic.js';
export type {
  BlobInfo,
  ContentIngester,
  ContentManager,
  ContentProvider,
  ContentStore,
  Expected,
  ReadOptions,
  WriteOptions,
  WriteResult,
} from './content/types.js';
export { FsContentStore, type FsContentStoreOptions } from './content/fs-store.js';
export { MemoryContentStore } from './content/memory-store.js';
export {
  FsSnapshotter,
  isSnapshotId,
  type ActiveOwner,
  type CommitOptions,
  type FsSnapshotterOptions,
} from './snapshots/fs-snapshotter.js';
export {
  MAX_CHAIN_DEPTH,
  type ActiveSnapshot,
  type CommittedSnapshot,
  type OverlayMount,
} from './snapshots/types.js';
export {
  listWithNodeFs,
  type DirectoryLister,
  type ListedEntry,
  type TreeSummary,
} from './snapshots/tree-digest.js';
export { CacheKeyIndex, type CacheRecord, type StoredRecord } from './index/records.js';
export { ImageStore, type ImageRecord } from './index/images.js';
export {
  descriptionReferences,
  IMAGE_DESCRIPTION_MEDIA_TYPE,
  parseImageDescription,
  type DescribedLayer,
  type ImageDescription,
  type ManifestSettings,
} from './index/image-description.js';
export {
  isLeaseLive,
  Lease,
  LeaseManager,
  type LeaseRecord,
  type LeaseResources,
} from './leases.js';
/** What killed processes leave (temps, active snapshots, leases); every command's open removes it. */
export { removeDeadOwners, type DeadOwnerParts, type DeadOwnerReport } from './gc/dead-owners.js';
export type { PruneOptions, PruneReport } from './gc/prune.js';
export type { DiskUsage, RecordUsage } from './gc/usage.js';
