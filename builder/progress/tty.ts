import { showControls, terminalText, type ProgressEvent } from '../../core/index.js';
import { checkSummary } from './check-summary.js';
import { cacheMissLine } from './cache-miss.js';
import type { ProgressDisplay, TextOutput } from './output.js';
import {
  formatSeconds,
  ProgressState,
  statusDuration,
  statusLabel,
  type VertexView,
} from './state.js';

/** Log lines shown under a running step, as BuildKit's BUILDKIT_TTY_LOG_LINES default. */
const TAIL_LINES = 6;
const REPAINT_MS = 100;

/**
 * BuildKit's tty progress: a repainting block with `[+] Building 3.2s (7/9)`,
 * one row per step with its time, CACHED or ERROR, and the last lines of each
 * running step. The full logs stay in the state; only the display is trimmed.
 */
export class TtyDisplay implements ProgressDisplay {
  readonly #out: TextOutput;
  readonly #now: () => number;
  readonly #state: ProgressState;
  readonly #timer: NodeJS.Timeout | undefined;
  #paintedLines = 0;

  constructor(out: TextOutput, options: { now?: () => number; autoRepaint?: boolean } = {}) {
    this.#out = out;
    this.#now = options.now ?? Date.now;
    this.#state = new ProgressState(this.#now());
    if (options.autoRepaint !== false) {
      this.#timer = setInterval(() => {
        this.repaint();
      }, REPAINT_MS);
      this.#timer.unref();
    }
  }

  readonly sink = (event: ProgressEvent): void => {
    this.#state.apply(event);
  };

  repaint(finished = false): void {
    const lines = renderTty(this.#state, this.#now(), {
      finished,
      // A terminal that reports no size (0, as under `script`) gets the usual 80x40.
      columns: positiveOr(this.#out.columns, 80),
      rows: positiveOr(this.#out.rows, 40),
    });
    const up = this.#paintedLines > 0 ? `\x1b[${String(this.#paintedLines)}A` : '';
    const body = lines.map((line) => `${line}\x1b[K\n`).join('');
    // Lines left over from a taller previous frame are cleared.
    const extra = Math.max(0, this.#paintedLines - lines.length);
    const clear = extra > 0 ? `${'\x1b[K\n'.repeat(extra)}\x1b[${String(extra)}A` : '';
    this.#out.write(`${up}${body}${clear}`);
    this.#paintedLines = lines.length;
  }

  finish(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.repaint(true);
    for (const warning of this.#state.warnings)
      this.#out.write(`WARNING: ${terminalText(warning)}\n`);
    this.#out.write(checkSummary(this.#state.checkWarnings, { color: true, blankLine: true }));
  }
}

/** One frame of the tty display; pure, so tests can check it line by line. */
export function renderTty(
  state: ProgressState,
  now: number,
  options: { finished: boolean; columns: number; rows: number },
): string[] {
  const vertices = [...state.vertices.values()];
  const done = vertices.filter((vertex) => vertex.completed !== undefined).length;
  const elapsed = formatSeconds(now - state.startedAt);
  const header = `[+] Building ${elapsed} (${String(done)}/${String(vertices.length)})${options.finished ? ' FINISHED' : ''}`;
  const rows: string[] = [];
  for (const vertex of vertices) {
    rows.push(
      fit(
        ` => ${rowText(rowLabel(vertex), options.columns)}`,
        formatSeconds(duration(vertex, now)),
        options.columns,
      ),
    );
    // Why it ran, dimmed: `=> => cache miss: ARG VERSION changed`.
    if (vertex.miss !== undefined) {
      const line = cacheMissLine(vertex.miss, (digest) => state.vertices.get(digest)?.number);
      rows.push(
        `\x1b[2m${truncate(` => => ${rowText(line, options.columns)}`, options.columns)}\x1b[22m`,
      );
    }
    // Sub-tasks (a layer download, `exporting layers`, `naming to …`), as BuildKit's `=> =>` rows.
    for (const status of vertex.statuses.values()) {
      rows.push(
        fit(
          ` => => ${rowText(statusLabel(status), options.columns)}`,
          formatSeconds(statusDuration(status, now)),
          options.columns,
        ),
      );
    }
    if (vertex.completed === undefined || vertex.error !== undefined) {
      for (const line of vertex.lines.slice(-TAIL_LINES)) {
        const shown = rowText(afterLastCarriageReturn(line.text), options.columns);
        rows.push(truncate(` => => # ${shown}`, options.columns));
      }
    }
  }
  // Keep the newest rows when the terminal is too short for all of them.
  const room = Math.max(1, options.rows - 2);
  return [header, ...rows.slice(-room)];
}

function rowLabel(vertex: VertexView): string {
  if (vertex.error !== undefined) return `ERROR ${vertex.name}`;
  // A hit from an imported cache names it, as plain's `CACHED (from REF)`; after the name,
  // so a narrow terminal cuts the source rather than the step.
  if (vertex.cached)
    return vertex.cachedFrom === undefined
      ? `CACHED ${vertex.name}`
      : `CACHED ${vertex.name} (from ${vertex.cachedFrom})`;
  if (vertex.canceled) return `CANCELED ${vertex.name}`;
  return vertex.name;
}

function duration(vertex: VertexView, now: number): number {
  if (vertex.started === undefined) return 0;
  return (vertex.completed ?? now) - vertex.started;
}

/** Left text and right-aligned time on one terminal row. */
function fit(left: string, right: string, columns: number): string {
  const space = columns - right.length - 1;
  const label = truncate(left, Math.max(10, space));
  return `${label}${' '.repeat(Math.max(1, columns - label.length - right.length))}${right}`;
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 3))}...`;
}

/**
 * Text for one row of the repainted block: tabs and newlines as spaces (either
 * would break the row count the repaint relies on), controls shown, not sent.
 * Only the first `columns` characters are kept, so a 5 MB line costs nothing at
 * each repaint; one more than fits, so the caller still adds the `...`.
 */
function rowText(text: string, columns: number): string {
  return showControls(text.slice(0, columns + 1).replace(/[\t\n]/g, ' '));
}

/** What a terminal shows of a line with `\r` in it: a progress bar redrawn in place. */
function afterLastCarriageReturn(line: string): string {
  return line.slice(line.lastIndexOf('\r') + 1);
}

function positiveOr(value: number | undefined, fallback: number): number {
  return value !== undefined && value > 0 ? value : fallback;
}
