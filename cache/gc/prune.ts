import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError, throwIfAborted, type Digest, type Logger } from '../../core/index.js';
import type { ContentStore } from '../content/types.js';
import { listDir } from '../fs/atomic.js';
import type { ImageStore } from '../index/images.js';
import type { CacheKeyIndex, StoredRecord } from '../index/records.js';
import type { StoreLayout } from '../layout.js';
import { isLeaseLive, type LeaseManager } from '../leases.js';
import type { FsSnapshotter } from '../snapshots/fs-snapshotter.js';
import type { CommittedSnapshot } from '../snapshots/types.js';
import { abortDeadActive, removeDeadLeases, removeDeadTemps } from './dead-owners.js';
import { Marker, bytesOf, type Reachable, type StoreState } from './state.js';

export interface PruneOptions {
  readonly signal: AbortSignal;
  /** Remove every cache record no running build holds, not only those the filters select. */
  readonly all?: boolean;
  /** Then remove least recently used records until the store holds at most this many bytes. */
  readonly keepStorage?: number;
  /** Remove records not used for this many ms. */
  readonly until?: number;
}

export interface PruneReport {
  readonly records: number;
  readonly blobs: number;
  readonly snapshots: number;
  /** Bytes of blobs and snapshot files removed. */
  readonly reclaimedBytes: number;
}

export interface StoreParts {
  readonly layout: StoreLayout;
  readonly logger: Logger;
  readonly content: ContentStore;
  readonly snapshots: FsSnapshotter;
  readonly records: CacheKeyIndex;
  readonly images: ImageStore;
  readonly leases: LeaseManager;
}

/** Temp files older than this are removed even if their pid is alive (pid reuse). */
const TEMP_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export async function loadState(parts: StoreParts, signal: AbortSignal): Promise<StoreState> {
  const blobs = new Map<Digest, Awaited<ReturnType<ContentStore['info']>> & object>();
  await parts.content.walk((info) => void blobs.set(info.digest, info), { signal });
  const snapshots = new Map<string, CommittedSnapshot>();
  for (const snapshot of await parts.snapshots.list()) snapshots.set(snapshot.id, snapshot);
  const now = Date.now();
  return {
    blobs,
    snapshots,
    records: await parts.records.list(signal),
    images: await parts.images.list(),
    liveLeases: (await parts.leases.list()).filter((lease) => isLeaseLive(lease, now)),
    liveActive: (await parts.snapshots.listActive()).filter((active) =>
      parts.snapshots.isActiveLive(active),
    ),
  };
}

/**
 * Mark and sweep, run under the store lock by the caller. Roots: image names,
 * the records that stay, live leases and live active snapshots. Records go
 * first (by `all`, `until`, then LRU for `keepStorage`), never one a live
 * lease names; then every blob and snapshot no root reaches is removed,
 * except what appeared after the run began (a writer not yet on a lease).
 */
export async function prune(parts: StoreParts, options: PruneOptions): Promise<PruneReport> {
  const { signal } = options;
  if ((options.keepStorage ?? 0) < 0 || (options.until ?? 0) < 0) {
    throw new TbuildError('TB_STORE_ARGUMENT', 'keep-storage and until must not be negative');
  }
  const startedAt = Date.now();
  const state = await loadState(parts, signal);
  const marker = new Marker(state, parts.content);
  const leased = new Set(state.liveLeases.flatMap((lease) => lease.records));

  const fixedRoots = {
    descriptors: state.images.flatMap((image) => [image.target, ...(image.manifests ?? [])]),
    blobs: state.liveLeases.flatMap((lease) => lease.blobs),
    snapshots: [
      ...state.liveLeases.flatMap((lease) => lease.snapshots),
      ...state.liveActive.flatMap((active) => (active.parent === undefined ? [] : [active.parent])),
    ],
  };

  const broken = (record: StoredRecord): boolean =>
    record.snapshot !== undefined && !state.snapshots.has(record.snapshot);
  const selected = (record: StoredRecord): boolean =>
    options.all === true ||
    broken(record) ||
    (options.until !== undefined && record.lastUsedAt < startedAt - options.until);
  let kept = state.records.filter((record) => leased.has(record.key) || !selected(record));

  const markWith = async (records: readonly StoredRecord[]): Promise<Reachable> =>
    marker.mark({
      descriptors: [
        ...fixedRoots.descriptors,
        ...records.flatMap((r) => Marker.recordRoots(r).descriptors),
      ],
      blobs: fixedRoots.blobs,
      snapshots: [
        ...fixedRoots.snapshots,
        ...records.flatMap((r) => Marker.recordRoots(r).snapshots),
      ],
    });

  let reachable = await markWith(kept);
  if (options.keepStorage !== undefined && bytesOf(state, reachable) > options.keepStorage) {
    const limit = options.keepStorage;
    // Least recently used first; leased records never go. Find the fewest to drop by bisection
    // (dropping more never keeps more).
    const droppable = kept
      .filter((r) => !leased.has(r.key))
      .sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    const keepAfter = (drop: number): StoredRecord[] => {
      const dropped = new Set(droppable.slice(0, drop).map((r) => r.key));
      return kept.filter((r) => !dropped.has(r.key));
    };
    let low = 1;
    let high = droppable.length;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if (bytesOf(state, await markWith(keepAfter(middle))) <= limit) high = middle;
      else low = middle + 1;
    }
    kept = keepAfter(high);
    reachable = await markWith(kept);
  }

  const keptKeys = new Set(kept.map((r) => r.key));
  let records = 0;
  for (const record of state.records) {
    throwIfAborted(signal);
    if (!keptKeys.has(record.key) && (await parts.records.delete(record.key))) records += 1;
  }

  let blobs = 0;
  let reclaimedBytes = 0;
  for (const [digest, info] of state.blobs) {
    throwIfAborted(signal);
    if (reachable.blobs.has(digest) || info.createdAt >= startedAt) continue;
    if (await parts.content.delete(digest)) {
      blobs += 1;
      reclaimedBytes += info.size;
    }
  }

  let snapshots = 0;
  for (const [id, snapshot] of state.snapshots) {
    throwIfAborted(signal);
    if (reachable.snapshots.has(id) || snapshot.createdAt >= startedAt) continue;
    if (await parts.snapshots.remove(id, { force: true })) {
      snapshots += 1;
      reclaimedBytes += snapshot.tree.bytes;
    }
  }
  snapshots += await sweepDebris(parts, state, startedAt);
  const report = { records, blobs, snapshots, reclaimedBytes };
  parts.logger.info('pruned the store', { ...report });
  return report;
}

/**
 * What crashes leave: snapshot directories without a commit record, trash, and
 * what dead processes owned (dead-owners.ts; every command that opens the root
 * removes that too, prune also temp entries older than a day, for pid reuse).
 * Returns the number of snapshot directories removed.
 */
async function sweepDebris(
  parts: StoreParts,
  state: StoreState,
  startedAt: number,
): Promise<number> {
  const { layout, snapshots } = parts;
  const liveActive = new Set(state.liveActive.map((active) => active.id));
  let removed = 0;
  for (const id of await snapshots.listDirs()) {
    if (state.snapshots.has(id) || liveActive.has(id)) continue;
    // Re-check: it may have been committed since the state was read.
    if ((await snapshots.get(id)) !== undefined) continue;
    if (await snapshots.remove(id, { force: true })) removed += 1;
  }
  removed += await abortDeadActive(snapshots, { before: startedAt });
  for (const name of await listDir(layout.snapshotTrash)) {
    await rm(join(layout.snapshotTrash, name), { recursive: true, force: true });
  }
  await removeDeadTemps(layout.tmp, { maxAgeMs: TEMP_MAX_AGE_MS, now: startedAt });
  await removeDeadLeases(parts.leases);
  return removed;
}
