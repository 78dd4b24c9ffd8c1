import { terminalText, type ProgressEvent } from '../../core/index.js';
import { checkSummary } from './check-summary.js';
import { cacheMissLine, componentLines } from './cache-miss.js';
import type { ProgressDisplay, TextOutput } from './output.js';
import {
  formatLogElapsed,
  formatSeconds,
  ProgressState,
  statusLabel,
  type VertexView,
} from './state.js';

/** How many log lines the failure block at the end repeats, as BuildKit does. */
const FAILURE_TAIL_LINES = 10;
/**
 * The failure block repeats a line cut shorter than the live log (LINE_LIMIT_BYTES):
 * the live log above already quoted it, so a long line is quoted once, not twice.
 */
const FAILURE_LINE_LIMIT_BYTES = 1024;
/** Status lines are printed at most this often per status, and when they complete. */
const STATUS_INTERVAL_MS = 5000;
/** Shorter than this rounds to 0.0s, which buildx leaves out. */
const SHOWN_TIME_MS = 50;

/**
 * BuildKit's plain progress: `#N name`, `#N 0.123 log line`, `#N CACHED`,
 * `#N DONE 0.4s`, `#N ERROR: …`, `#N ...` when output switches to another
 * step before this one finished, and a block with the last lines of each failed
 * step at the end. No log line is dropped; each is cut at a few KB, and its
 * control characters are shown, not sent (terminalText; `\r` is kept, as
 * BuildKit's plain output keeps it, for progress bars in CI logs).
 */
export class PlainDisplay implements ProgressDisplay {
  readonly #out: TextOutput;
  readonly #state: ProgressState;
  readonly #statusPrinted = new Map<string, number>();
  #current: VertexView | undefined;

  readonly #explain: boolean;

  /** `explain` (`--explain`) prints, under a cache miss, every component of the step's key. */
  constructor(
    out: TextOutput,
    now: () => number = Date.now,
    options: { readonly explain?: boolean } = {},
  ) {
    this.#out = out;
    this.#state = new ProgressState(now());
    this.#explain = options.explain === true;
  }

  readonly sink = (event: ProgressEvent): void => {
    const { vertex, newLines } = this.#state.apply(event);
    if (event.type === 'warning') {
      // Build-check warnings wait for the list after the build (finish).
      if (event.check === undefined) this.#out.write(`WARNING: ${terminalText(event.message)}\n`);
      return;
    }
    if (vertex === undefined) return;
    const prefix = `#${String(vertex.number)}`;
    const print = (text: string): void => {
      this.#switchTo(vertex);
      this.#out.write(`${prefix} ${text}\n`);
    };
    for (const line of newLines) {
      print(`${formatLogElapsed(line.at - (vertex.started ?? line.at))} ${logLine(line.text)}`);
    }
    switch (event.type) {
      case 'vertex.started':
        this.#switchTo(vertex);
        break;
      case 'vertex.cached':
        // A hit from an imported cache names it; a local hit is plain CACHED, as BuildKit's.
        print(event.from === undefined ? 'CACHED' : `CACHED (from ${terminalText(event.from)})`);
        break;
      case 'vertex.status': {
        const status = vertex.statuses.get(event.id);
        const key = `${vertex.digest} ${event.id}`;
        const last = this.#statusPrinted.get(key);
        if (
          status !== undefined &&
          (event.completed || last === undefined || event.at - last >= STATUS_INTERVAL_MS)
        ) {
          this.#statusPrinted.set(key, event.at);
          const time = status.updated - status.started;
          // A sub-task that counts nothing shows its time only when it took any (buildx:
          // `exporting layers 0.3s done`, `naming to … done`).
          const shown =
            status.total === undefined && status.current === 0 && time < SHOWN_TIME_MS
              ? ''
              : ` ${formatSeconds(time)}`;
          print(`${terminalText(statusLabel(status))}${shown}${status.completed ? ' done' : ''}`);
        }
        break;
      }
      case 'vertex.completed':
        print(`DONE ${formatSeconds((vertex.completed ?? 0) - (vertex.started ?? 0))}`);
        break;
      case 'vertex.error':
        print(`ERROR: ${terminalText(event.error.message)}`);
        break;
      case 'vertex.canceled':
        print('CANCELED');
        break;
      case 'vertex.cache-miss':
        print(cacheMissLine(event, (digest) => this.#state.vertices.get(digest)?.number));
        if (this.#explain) for (const line of componentLines(event)) print(line);
        break;
      case 'vertex.log':
        break;
    }
  };

  #switchTo(vertex: VertexView): void {
    if (this.#current === vertex) return;
    const previous = this.#current;
    if (previous !== undefined) {
      if (previous.completed === undefined) this.#out.write(`#${String(previous.number)} ...\n`);
      this.#out.write('\n');
    }
    this.#current = vertex;
    this.#out.write(`#${String(vertex.number)} ${terminalText(vertex.name)}\n`);
  }

  finish(): void {
    // Whether the output already ends with a blank line (the check list then needs none).
    let blankLine = this.#current !== undefined;
    if (this.#current !== undefined) this.#out.write('\n');
    this.#current = undefined;
    for (const vertex of this.#state.vertices.values()) {
      if (vertex.error === undefined) continue;
      blankLine = false;
      const tail = vertex.lines.slice(-FAILURE_TAIL_LINES);
      const body = tail.map(
        (line) =>
          `${formatLogElapsed(line.at - (vertex.started ?? line.at))} ${logLine(line.text, FAILURE_LINE_LIMIT_BYTES)}\n`,
      );
      const name = terminalText(vertex.name, { maxBytes: FAILURE_LINE_LIMIT_BYTES });
      this.#out.write(`------\n > ${name}:\n${body.join('')}------\n`);
    }
    this.#out.write(
      checkSummary(this.#state.checkWarnings, { color: false, blankLine: !blankLine }),
    );
  }
}

/** One line of a step's output (no `\n` in it), cut and with its controls shown. */
function logLine(text: string, maxBytes?: number): string {
  return terminalText(text, {
    keepCarriageReturn: true,
    ...(maxBytes === undefined ? {} : { maxBytes }),
  });
}
