import { isTbuildError, sha256Digest, type Digest } from '../../core/index.js';
import type { BuildStore } from './store.js';

/**
 * A layer's diffID is a checksum of its snapshot's content: the sha256 of the
 * tar made of it. The first tar made of a snapshot records it (here, keyed by
 * the snapshot and the tar's settings, and in the blob's own record); a tar
 * made again later (its blob was damaged or removed, or another compression is
 * asked for) must give the same diffID, or the snapshot changed since, in a way
 * its commit record's summary may not see (a same-size edit of a file's bytes).
 */
export function layerDiffKey(snapshot: string, sourceDateEpoch: number | undefined): Digest {
  return sha256Digest(`tbuild.layer-diffid.v1 ${snapshot} ${String(sourceDateEpoch ?? '')}`);
}

/** The diffID recorded for the snapshot's tar with these settings, if any. */
export async function recordedDiffId(
  store: BuildStore,
  snapshot: string,
  sourceDateEpoch: number | undefined,
  signal: AbortSignal,
): Promise<Digest | undefined> {
  const record = await store.records.load(layerDiffKey(snapshot, sourceDateEpoch), { signal });
  const diffId = record?.data?.['diffId'];
  return typeof diffId === 'string' ? (diffId as Digest) : undefined;
}

/**
 * Checks a tar made again against the diffID recorded before. On a mismatch the
 * snapshot is dropped (the steps that made it run again when the build solves
 * once more, see isStaleResult) and
 * TB_SNAPSHOT_CORRUPT is thrown: such a layer is never exported. The first
 * tar made of a snapshot records its diffID.
 */
export async function checkLayerDiffId(
  store: BuildStore,
  layer: {
    readonly snapshot: string;
    readonly sourceDateEpoch: number | undefined;
    readonly found: Digest;
    readonly expected: Digest | undefined;
  },
  signal: AbortSignal,
): Promise<void> {
  if (layer.expected === undefined) {
    await store.records.save(
      layerDiffKey(layer.snapshot, layer.sourceDateEpoch),
      { data: { diffId: layer.found }, description: `layer diffID of snapshot ${layer.snapshot}` },
      signal,
    );
    return;
  }
  if (layer.found === layer.expected) return;
  // The blob just made stays unreferenced (no record names it) until GC removes it.
  throw await store.snapshots.discard(
    layer.snapshot,
    `its layer tar hashes to ${layer.found}, not the ${layer.expected} recorded when the layer was first made`,
    { expectedDiffId: layer.expected, foundDiffId: layer.found },
  );
}

/** A stored blob is usable when present and its bytes verify; a damaged one is removed by verify. */
export async function blobIntact(
  store: BuildStore,
  digest: Digest,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    return await store.content.verify(digest, { signal });
  } catch (error) {
    if (isTbuildError(error, 'TB_CONTENT_NOT_FOUND')) return false;
    throw error;
  }
}
