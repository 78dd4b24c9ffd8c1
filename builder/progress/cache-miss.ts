import {
  terminalText,
  type CacheMissReason,
  type Digest,
  type VertexCacheMiss,
} from '../../core/index.js';

/** Changed context paths a miss line names; the rest are counted (`+3 more`). */
export const PATHS_SHOWN = 3;

/** The `#N` a display gave a vertex, when it showed it. */
export type StepNumber = (vertex: Digest) => number | undefined;

/**
 * The line under a step that ran although an earlier build had its result:
 * `cache miss: ARG VERSION changed`, `cache miss: context files changed: a, b (+3 more)`.
 */
export function cacheMissLine(event: VertexCacheMiss, numberOf: StepNumber): string {
  const text = event.reasons.map((reason) => describeReason(reason, numberOf)).join('; ');
  return terminalText(`cache miss: ${text}`);
}

export function describeReason(reason: CacheMissReason, numberOf: StepNumber): string {
  switch (reason.kind) {
    case 'instruction':
      return 'the instruction changed';
    case 'arg':
      return `ARG ${reason.names.join(', ')} changed`;
    case 'env':
      return `ENV ${reason.names.join(', ')} changed`;
    case 'base-image':
      return reason.before === undefined || reason.after === undefined
        ? 'the base image changed'
        : `the base image changed (${shortDigest(reason.before)} → ${shortDigest(reason.after)})`;
    case 'files': {
      if (reason.count === 0) return 'context files changed';
      const shown = reason.paths.slice(0, PATHS_SHOWN).map(showPath);
      const more = reason.count - shown.length;
      return `context files changed: ${shown.join(', ')}${more > 0 ? ` (+${String(more)} more)` : ''}`;
    }
    case 'parent': {
      const number = numberOf(reason.vertex);
      const step = number === undefined ? 'its parent step' : `its parent step #${String(number)}`;
      return reason.ran ? `${step} ran again` : `${step} has another result`;
    }
    case 'settings':
      return 'its settings changed (build options, or another tbuild version)';
    case 'evicted':
      return 'its cached result was removed (pruned, or found damaged)';
  }
}

/**
 * `--explain`: every component of the step's key, as it was and as it is.
 * Build args and ENV show only whether they are the same or unset, never a value.
 */
export function componentLines(event: VertexCacheMiss): string[] {
  return event.components.map((row) => {
    const state = row.same ? 'same' : 'changed';
    const values =
      row.same || (row.before === undefined && row.after === undefined)
        ? ''
        : `: ${showValue(row.before)} → ${showValue(row.after)}`;
    return terminalText(`  ${row.component}: ${state}${values}`, { maxBytes: 400 });
  });
}

function showValue(value: string | undefined): string {
  if (value === undefined) return 'none';
  return /^sha256:[0-9a-f]{64}$/.test(value) ? shortDigest(value) : JSON.stringify(value);
}

/** `sha256:` and the first 12 hex digits, as docker shows image IDs. */
function shortDigest(digest: string): string {
  return /^sha256:[0-9a-f]{64}$/.test(digest) ? digest.slice(0, 'sha256:'.length + 12) : digest;
}

/** The context's root is `.`. */
function showPath(path: string): string {
  if (path === '') return '.';
  // A name with a line break in it must not break the line.
  return /[\n\r\t]/.test(path) ? JSON.stringify(path) : path;
}
