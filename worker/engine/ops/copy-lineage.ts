import { canonicalDigest, type Digest } from '../../../core/index.js';
import type { Vertex } from '../../../solver/index.js';
import type { BuildStore } from '../store.js';

/**
 * The last layer a copy step produced, whatever its inputs' content was then:
 * a record under a key made from the vertex digest alone (which names the
 * sources and destination, not the bytes). A rebuild after an edit links the
 * files that did not change from that layer (FileReuse) instead of copying
 * them. The record also keeps the layer from GC like any cache record; prune
 * may still remove it, and then the next build copies everything.
 */
export function copyLineageKey(vertex: Vertex): Digest {
  return canonicalDigest({ encoding: 'tbuild.copy-lineage.v1', vertex: vertex.digest });
}

/** The directory of the last layer of this lineage, if it is still committed. */
export async function previousLayerDir(
  store: BuildStore,
  key: Digest,
  signal: AbortSignal,
): Promise<string | undefined> {
  const record = await store.records.load(key, { signal, touch: false });
  if (record?.snapshot === undefined) return undefined;
  const committed = await store.snapshots.get(record.snapshot);
  return committed === undefined ? undefined : store.snapshots.path(committed.id);
}

export async function rememberLayer(
  store: BuildStore,
  key: Digest,
  snapshot: string,
  vertex: Vertex,
  signal: AbortSignal,
): Promise<void> {
  await store.records.save(
    key,
    {
      snapshot,
      description: `last result of ${vertex.meta.name} (unchanged files are linked from it)`,
    },
    signal,
  );
}
