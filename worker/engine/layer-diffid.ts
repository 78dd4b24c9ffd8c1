import type { Digest } from '../../core/index.js';
import { Sha256Stream } from '../../runtime/index.js';
import { upperDirTarChunks } from '../layers/index.js';
import { checkLayerDiffId, recordedDiffId } from './layer-diff.js';
import type { BuildStore } from './store.js';

/** Tar chunks (~1 MiB each) the hashing may lag behind the tar. */
const HASH_AHEAD = 4;

/**
 * The diffID of a snapshot's layer without making its blob: the one recorded
 * when a tar of it was first made (by this, by makeLayerBlob, or ahead of
 * export), otherwise the sha256 of a tar made now and only hashed, then
 * recorded. An image kept in the local store needs its layers' diffIDs (its
 * config names them) but no compressed bytes.
 */
export async function layerDiffId(
  snapshot: string,
  options: {
    readonly store: BuildStore;
    readonly sourceDateEpoch: number | undefined;
    readonly signal: AbortSignal;
  },
): Promise<Digest> {
  const { store, sourceDateEpoch, signal } = options;
  const recorded = await recordedDiffId(store, snapshot, sourceDateEpoch, signal);
  if (recorded !== undefined) return recorded;
  await store.snapshots.ensureIntact(snapshot, { signal });
  const hash = new Sha256Stream();
  const hashing: Promise<void>[] = [];
  for await (const chunk of upperDirTarChunks(store.snapshots.path(snapshot), {
    signal,
    ...(sourceDateEpoch === undefined ? {} : { sourceDateEpoch }),
  })) {
    // Hashed on libuv threads; chunks are never written again once yielded.
    hashing.push(hash.update(chunk));
    if (hashing.length > HASH_AHEAD) await hashing.shift();
  }
  await Promise.all(hashing);
  const diffId = `sha256:${await hash.digest()}` as Digest;
  await checkLayerDiffId(
    store,
    { snapshot, sourceDateEpoch, found: diffId, expected: undefined },
    signal,
  );
  return diffId;
}
