import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { noopLogger, type Logger, type WriteFaults } from '../core/index.js';
import { FsContentStore } from './content/fs-store.js';
import type { ContentStore } from './content/types.js';
import { storeIoError } from './fs/atomic.js';
import { FileLock } from './fs/lock.js';
import { PruneFence } from './gc/prune-fence.js';
import { removeDeadTemps } from './gc/dead-owners.js';
import { prune, type PruneOptions, type PruneReport, type StoreParts } from './gc/prune.js';
import { diskUsage, type DiskUsage } from './gc/usage.js';
import { ImageStore } from './index/images.js';
import { CacheKeyIndex } from './index/records.js';
import { storeLayout, type StoreLayout } from './layout.js';
import { LeaseManager } from './leases.js';
import { FsSnapshotter } from './snapshots/fs-snapshotter.js';
import type { DirectoryLister } from './snapshots/tree-digest.js';

export interface OpenStoreOptions {
  /** The tbuild root (TBUILD_ROOT), resolved by the caller; this module reads no environment. */
  readonly root: string;
  readonly logger?: Logger;
  /**
   * fsync blobs and image names before they become visible (default true); off trades
   * power-loss safety for speed. Commit markers and cache records are never fsynced.
   */
  readonly durable?: boolean;
  /** How long a lease update waits out a running prune, and a prune another (default 60 s). */
  readonly lockTimeoutMs?: number;
  /** How snapshot commits and checks list directories (default node:fs; see DirectoryLister). */
  readonly listDirectory?: DirectoryLister;
  /**
   * A test seam: called before each file the store writes, it may throw the
   * error a full or broken disk gives (core/faults.ts). Unset in normal use.
   */
  readonly faults?: WriteFaults;
}

/** Everything under one tbuild root. Several processes may open the same root at once. */
export interface TbuildStore {
  readonly layout: StoreLayout;
  readonly content: ContentStore;
  readonly snapshots: FsSnapshotter;
  readonly records: CacheKeyIndex;
  readonly images: ImageStore;
  readonly leases: LeaseManager;
  /** The write-fault seam the store was opened with, for other writers of a build (outputs). */
  readonly faults?: WriteFaults;
  /** Removes unreferenced data under the store lock; see PruneOptions. */
  prune(options: PruneOptions): Promise<PruneReport>;
  diskUsage(signal: AbortSignal): Promise<DiskUsage>;
}

export async function openStore(options: OpenStoreOptions): Promise<TbuildStore> {
  const logger = options.logger ?? noopLogger;
  const layout = storeLayout(options.root);
  for (const dir of [
    layout.tmp,
    layout.blobs,
    layout.snapshotMeta,
    layout.snapshotActive,
    layout.snapshotTrash,
    layout.records,
    layout.images,
    layout.leases,
    layout.locks,
  ]) {
    await mkdir(dir, { recursive: true }).catch((error: unknown) => {
      throw storeIoError('create', dir, error);
    });
  }
  // Temp files whose writer died (a kill -9 mid-write): cheap enough for every open.
  await removeDeadTemps(layout.tmp);
  const durable = options.durable ?? true;
  const lockTimeoutMs = options.lockTimeoutMs ?? 60_000;
  // Prunes take the lock among themselves; lease writers only look for the fence's marker.
  const lock = new FileLock(join(layout.locks, 'gc.lock'), layout.tmp, logger);
  const fence = new PruneFence(join(layout.locks, 'prune-running.json'), layout.tmp);
  const faults = options.faults;
  const parts: StoreParts = {
    layout,
    logger,
    content: new FsContentStore({ layout, logger, durable, faults }),
    // Commit markers and cache records are never fsynced: both are checked JSON, so one a
    // power loss tears or zeroes reads as absent (a cache miss, never a wrong result), and
    // a snapshot's files were never fsynced either (ensureIntact finds one that lost them).
    // Blobs and image names, which nothing rebuilds, stay durable.
    snapshots: new FsSnapshotter({
      layout,
      logger,
      durable: false,
      faults,
      ...(options.listDirectory === undefined ? {} : { listDirectory: options.listDirectory }),
    }),
    records: new CacheKeyIndex({ layout, logger, durable: false, faults }),
    images: new ImageStore({ layout, logger, durable, faults }),
    leases: new LeaseManager({ layout, fence, lockTimeoutMs, logger, faults }),
  };
  return {
    ...parts,
    ...(faults === undefined ? {} : { faults }),
    prune: (pruneOptions) =>
      lock.with(pruneOptions.signal, lockTimeoutMs, () =>
        fence.around(() => prune(parts, pruneOptions)),
      ),
    diskUsage: (signal) => diskUsage(parts, signal),
  };
}
