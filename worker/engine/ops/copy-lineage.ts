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
  // The definition, not the digest: the digest differs in every build (its session).
  return canonicalDigest({ encoding: 'tbuild.copy-lineage.v1', vertex: vertex.definition });
}

/** The last layer of this lineage, if still committed, and what its files were made from. */
export interface PreviousLayer {
  readonly dir: string;
  /** Path in the layer → identity of its source then (FileReuse). */
  readonly sources: ReadonlyMap<string, string>;
}

export async function previousLayer(
  store: BuildStore,
  key: Digest,
  signal: AbortSignal,
): Promise<PreviousLayer | undefined> {
  const record = await store.records.load(key, { signal, touch: false });
  if (record?.snapshot === undefined) return undefined;
  const committed = await store.snapshots.get(record.snapshot);
  if (committed === undefined) return undefined;
  return { dir: store.snapshots.path(committed.id), sources: recordedSources(record.data) };
}

/**
 * The sources a record lists: a flat [path, identity, path, identity, …] array
 * (a JSON object with a key per file parsed several times slower, and a COPY
 * of 20k files has 20k), or the object form of earlier versions.
 */
function recordedSources(data: Readonly<Record<string, unknown>> | undefined): Map<string, string> {
  const sources = new Map<string, string>();
  const list = data?.['sourceList'];
  if (Array.isArray(list)) {
    for (let index = 0; index + 1 < list.length; index += 2) {
      const [path, identity] = [list[index] as unknown, list[index + 1] as unknown];
      if (typeof path === 'string' && typeof identity === 'string') sources.set(path, identity);
    }
    return sources;
  }
  const object = data?.['sources'];
  if (typeof object === 'object' && object !== null) {
    for (const [path, identity] of Object.entries(object)) {
      if (typeof identity === 'string') sources.set(path, identity);
    }
  }
  return sources;
}

export async function rememberLayer(
  store: BuildStore,
  key: Digest,
  snapshot: string,
  options: {
    readonly vertex: Vertex;
    readonly sources: ReadonlyMap<string, string>;
    readonly signal: AbortSignal;
  },
): Promise<void> {
  await store.records.save(
    key,
    {
      snapshot,
      description: `last result of ${options.vertex.meta.name} (unchanged files are linked from it)`,
      data: { sourceList: [...options.sources].flat() },
    },
    options.signal,
  );
}
