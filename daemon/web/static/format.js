/** How the page writes times and durations. */

/** `1.2s`, `3m 04s`, `1h 02m`. */
export function formatDuration(milliseconds) {
  const seconds = Math.max(0, milliseconds) / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60)
    return `${String(minutes)}m ${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  return `${String(Math.floor(minutes / 60))}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** A local date and time, to the second. */
export function formatTime(iso) {
  if (iso === undefined) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleString();
}

/** How long a build took, or has been running, from its record. */
export function buildDuration(record, now = Date.now()) {
  if (record.startedAt === undefined) return '';
  const end = record.finishedAt === undefined ? now : Date.parse(record.finishedAt);
  return formatDuration(end - Date.parse(record.startedAt));
}

/** Whether a build status is final. */
export function isFinished(status) {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}

/** The tags a build was asked to write (its `tag` options), as one line. */
export function tagsOf(record) {
  const tag = record.options?.tag;
  if (tag === undefined) return '';
  return Array.isArray(tag) ? tag.join(', ') : String(tag);
}
