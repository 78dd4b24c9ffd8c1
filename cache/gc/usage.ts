import type { Digest } from '../../core/index.js';
import { Marker, bytesOf } from './state.js';
import { loadState, type StoreParts } from './prune.js';

export interface RecordUsage {
  readonly key: Digest;
  readonly description?: string;
  readonly snapshot?: string;
  /** Bytes of this record's own snapshot layer and blobs. */
  readonly bytes: number;
  /**
   * Bytes charged to this record alone: its data that no record before it in
   * `records` was charged for, so the charges add up to all the data records
   * reach, each byte once (what `tbuild du` lists, as buildx's rows sum to its total).
   */
  readonly chargedBytes: number;
  /** Some of the charged data is also held by an image or a running build: prune keeps it. */
  readonly chargedPinned: boolean;
  /** Also reachable from an image or another record (pruning this one alone frees less). */
  readonly shared: boolean;
  /** Held by a running build. */
  readonly inUse: boolean;
  readonly createdAt: number;
  readonly lastUsedAt: number;
}

export interface DiskUsage {
  readonly blobs: { readonly count: number; readonly bytes: number };
  readonly snapshots: { readonly count: number; readonly bytes: number };
  readonly images: number;
  readonly records: readonly RecordUsage[];
  readonly totalBytes: number;
  /** What `prune --all` would free now: not reachable from images or running builds. */
  readonly reclaimableBytes: number;
}

/** The report behind `tbuild du`. Reads without the lock: a running build may change it meanwhile. */
export async function diskUsage(parts: StoreParts, signal: AbortSignal): Promise<DiskUsage> {
  const state = await loadState(parts, signal);
  const marker = new Marker(state, parts.content);
  const pinned = await marker.mark({
    descriptors: state.images.flatMap((image) => [image.target, ...(image.manifests ?? [])]),
    blobs: state.liveLeases.flatMap((lease) => lease.blobs),
    snapshots: [
      ...state.liveLeases.flatMap((lease) => lease.snapshots),
      ...state.liveActive.flatMap((active) => (active.parent === undefined ? [] : [active.parent])),
    ],
  });
  const leased = new Set(state.liveLeases.flatMap((lease) => lease.records));
  const own = await Promise.all(
    state.records.map(async (record) => ({
      record,
      reach: await marker.mark({
        descriptors: [...(record.blobs ?? [])],
        blobs: [],
        snapshots: [],
      }),
    })),
  );
  const counts = new Map<string, number>();
  const count = (id: string): void => void counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const { record, reach } of own) {
    for (const digest of reach.blobs) count(digest);
    if (record.snapshot !== undefined) count(record.snapshot);
  }
  const charged = new Set<string>();
  // Most recently used first: the order of `records` below, which charges run in.
  own.sort((a, b) => b.record.lastUsedAt - a.record.lastUsedAt);
  const records = own.map(({ record, reach }): RecordUsage => {
    const snapshotBytes =
      record.snapshot === undefined ? 0 : (state.snapshots.get(record.snapshot)?.tree.bytes ?? 0);
    const blobBytes = [...reach.blobs].reduce(
      (sum, digest) => sum + (state.blobs.get(digest)?.size ?? 0),
      0,
    );
    const ids = [...reach.blobs, ...(record.snapshot === undefined ? [] : [record.snapshot])];
    const shared = ids.some(
      (id) =>
        (counts.get(id) ?? 0) > 1 || pinned.blobs.has(id as Digest) || pinned.snapshots.has(id),
    );
    let chargedBytes = 0;
    let chargedPinned = false;
    for (const id of ids) {
      if (charged.has(id)) continue;
      charged.add(id);
      const snapshot = state.snapshots.get(id);
      chargedBytes += snapshot?.tree.bytes ?? state.blobs.get(id as Digest)?.size ?? 0;
      if (pinned.blobs.has(id as Digest) || pinned.snapshots.has(id)) chargedPinned = true;
    }
    return {
      key: record.key,
      chargedBytes,
      chargedPinned,
      ...(record.description === undefined ? {} : { description: record.description }),
      ...(record.snapshot === undefined ? {} : { snapshot: record.snapshot }),
      bytes: snapshotBytes + blobBytes,
      shared,
      inUse: leased.has(record.key),
      createdAt: record.createdAt,
      lastUsedAt: record.lastUsedAt,
    };
  });
  const all = {
    blobs: new Set(state.blobs.keys()),
    snapshots: new Set(state.snapshots.keys()),
  };
  const blobBytes = [...state.blobs.values()].reduce((sum, info) => sum + info.size, 0);
  const snapshotBytes = [...state.snapshots.values()].reduce((sum, s) => sum + s.tree.bytes, 0);
  const totalBytes = bytesOf(state, all);
  return {
    blobs: { count: state.blobs.size, bytes: blobBytes },
    snapshots: { count: state.snapshots.size, bytes: snapshotBytes },
    images: state.images.length,
    records,
    totalBytes,
    reclaimableBytes: totalBytes - bytesOf(state, pinned),
  };
}
