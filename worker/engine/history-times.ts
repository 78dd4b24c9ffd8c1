import type { HistoryEntry } from '../../core/index.js';

/**
 * When a build result was made, as the image config and history say it.
 *
 * Without SOURCE_DATE_EPOCH the times come from the layers, as BuildKit's
 * exporter takes them from its cache records: a history entry with a layer
 * gets the time its snapshot was first committed, an entry without a layer
 * the time of the entry before it (or of the first layer when nothing comes
 * before), and the config's `created` is the last entry's. A fully cached
 * rebuild reuses the same snapshots, so it writes the same config and the
 * same image digest; a changed step makes a new snapshot and a new time.
 *
 * With SOURCE_DATE_EPOCH every time is that epoch (times the base image
 * brought included), which makes the digest independent of the cache.
 */
export function stampHistory(
  history: readonly HistoryEntry[],
  /** Commit times (ms since the Unix epoch) of the result's layers, base first. */
  layerTimes: readonly number[],
  sourceDateEpoch: number | undefined,
): { readonly history: HistoryEntry[]; readonly created: string } {
  if (sourceDateEpoch !== undefined) {
    const created = new Date(sourceDateEpoch * 1000).toISOString();
    return { history: history.map((entry) => ({ ...entry, created })), created };
  }
  const layerTime = (index: number): string | undefined => {
    const time = layerTimes[index];
    return time === undefined ? undefined : new Date(time).toISOString();
  };
  const stamped: HistoryEntry[] = [];
  let layer = 0;
  let previous: string | undefined;
  for (const entry of history) {
    let created = entry.created;
    if (entry.empty_layer === true) {
      created ??= previous ?? layerTime(layer);
    } else {
      created ??= layerTime(layer) ?? previous;
      layer += 1;
    }
    stamped.push(created === undefined ? { ...entry } : { ...entry, created });
    if (created !== undefined) previous = created;
  }
  // Layers no history entry describes (a base image with a short history): BuildKit
  // adds an entry for each, so that every layer has one.
  for (; layer < layerTimes.length; layer += 1) {
    const created = layerTime(layer) ?? previous;
    stamped.push({
      ...(created === undefined ? {} : { created }),
      created_by: 'created by tbuild',
      comment: 'tbuild.exporter.image.v0',
    });
    if (created !== undefined) previous = created;
  }
  // Nothing has a time only when there are no layers at all (FROM scratch with
  // config instructions only): the Unix epoch keeps such an image reproducible.
  const fallback = new Date(0).toISOString();
  return {
    history: stamped.map((entry) =>
      entry.created === undefined ? { ...entry, created: fallback } : entry,
    ),
    created: previous ?? fallback,
  };
}
