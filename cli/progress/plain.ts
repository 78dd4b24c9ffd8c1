import type { ProgressEvent } from '../../core/index.js';
import type { ProgressDisplay, TextOutput } from './output.js';
import {
  formatBytes,
  formatLogElapsed,
  formatSeconds,
  ProgressState,
  type VertexView,
} from './state.js';

/** How many log lines the failure block at the end repeats, as BuildKit does. */
const FAILURE_TAIL_LINES = 10;
/** Status lines are printed at most this often per status, and when they complete. */
const STATUS_INTERVAL_MS = 5000;

/**
 * BuildKit's plain progress: `#N name`, `#N 0.123 log line`, `#N CACHED`,
 * `#N DONE 0.4s`, `#N ERROR: …`, `#N ...` when output switches to another
 * step before this one finished, and a block with the last lines of each failed
 * step at the end. Log lines are never clipped.
 */
export class PlainDisplay implements ProgressDisplay {
  readonly #out: TextOutput;
  readonly #state: ProgressState;
  readonly #statusPrinted = new Map<string, number>();
  #current: VertexView | undefined;

  constructor(out: TextOutput, now: () => number = Date.now) {
    this.#out = out;
    this.#state = new ProgressState(now());
  }

  readonly sink = (event: ProgressEvent): void => {
    const { vertex, newLines } = this.#state.apply(event);
    if (event.type === 'warning') {
      this.#out.write(`WARNING: ${event.message}\n`);
      return;
    }
    if (vertex === undefined) return;
    const prefix = `#${String(vertex.number)}`;
    const print = (text: string): void => {
      this.#switchTo(vertex);
      this.#out.write(`${prefix} ${text}\n`);
    };
    for (const line of newLines) {
      print(`${formatLogElapsed(line.at - (vertex.started ?? line.at))} ${line.text}`);
    }
    switch (event.type) {
      case 'vertex.started':
        this.#switchTo(vertex);
        break;
      case 'vertex.cached':
        print('CACHED');
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
          const amount =
            status.total === undefined
              ? formatBytes(status.current)
              : `${formatBytes(status.current)} / ${formatBytes(status.total)}`;
          const time = formatSeconds(status.updated - status.started);
          print(`${event.id} ${amount} ${time}${status.completed ? ' done' : ''}`);
        }
        break;
      }
      case 'vertex.completed':
        print(`DONE ${formatSeconds((vertex.completed ?? 0) - (vertex.started ?? 0))}`);
        break;
      case 'vertex.error':
        print(`ERROR: ${event.error.message}`);
        break;
      case 'vertex.canceled':
        print('CANCELED');
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
    this.#out.write(`#${String(vertex.number)} ${vertex.name}\n`);
  }

  finish(): void {
    if (this.#current !== undefined) this.#out.write('\n');
    this.#current = undefined;
    for (const vertex of this.#state.vertices.values()) {
      if (vertex.error === undefined) continue;
      const tail = vertex.lines.slice(-FAILURE_TAIL_LINES);
      const body = tail.map(
        (line) => `${formatLogElapsed(line.at - (vertex.started ?? line.at))} ${line.text}\n`,
      );
      this.#out.write(`------\n > ${vertex.name}:\n${body.join('')}------\n`);
    }
  }
}
