import type { Digest, ProgressEvent, SerializedError, VertexCacheMiss } from '../../core/index.js';

/** What the displays know about one vertex, folded from its progress events. */
export interface VertexView {
  readonly digest: Digest;
  /** 1-based, in order of first appearance: the `#N` of plain output. */
  readonly number: number;
  name: string;
  started?: number;
  completed?: number;
  cached: boolean;
  /** The imported cache a hit came from (its ref); absent for a local hit. */
  cachedFrom?: string;
  canceled: boolean;
  error?: SerializedError;
  /** Why it ran although an earlier build had its result (solver/explain/). */
  miss?: VertexCacheMiss;
  /** Complete lines of output; never clipped (the display decides what to show). */
  readonly lines: LogLine[];
  /** A partial last line per stream, waiting for its newline. */
  readonly partial: { stdout: string; stderr: string };
  readonly statuses: Map<string, StatusView>;
}

export interface LogLine {
  readonly at: number;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

export interface StatusView {
  readonly id: string;
  current: number;
  total?: number;
  completed: boolean;
  readonly started: number;
  updated: number;
}

/** Folds progress events into per-vertex views shared by the tty and plain displays. */
export class ProgressState {
  readonly vertices = new Map<Digest, VertexView>();
  readonly warnings: string[] = [];
  /** Build-check warnings (`Rule: message (line N)`), listed after the build. */
  readonly checkWarnings: string[] = [];
  readonly startedAt: number;

  constructor(now: number) {
    this.startedAt = now;
  }

  /** Applies one event; returns the vertex it concerned and the log lines it completed. */
  apply(event: ProgressEvent): { vertex?: VertexView; newLines: LogLine[] } {
    if (event.type === 'warning') {
      if (event.check === undefined) this.warnings.push(event.message);
      else this.checkWarnings.push(event.message);
      return { newLines: [] };
    }
    const vertex = this.#vertex(event.vertex);
    const newLines: LogLine[] = [];
    switch (event.type) {
      case 'vertex.started':
        vertex.name = event.name;
        vertex.started ??= event.at;
        break;
      case 'vertex.cached':
        vertex.name = event.name;
        vertex.cached = true;
        if (event.from !== undefined) vertex.cachedFrom = event.from;
        vertex.started ??= event.at;
        vertex.completed = event.at;
        break;
      case 'vertex.log':
        newLines.push(...this.#appendLog(vertex, event.stream, event.data, event.at));
        break;
      case 'vertex.status': {
        const status = vertex.statuses.get(event.id);
        if (status === undefined) {
          vertex.statuses.set(event.id, {
            id: event.id,
            current: event.current,
            ...(event.total === undefined ? {} : { total: event.total }),
            completed: event.completed,
            started: event.at,
            updated: event.at,
          });
        } else {
          status.current = event.current;
          if (event.total !== undefined) status.total = event.total;
          status.completed = event.completed;
          status.updated = event.at;
        }
        break;
      }
      case 'vertex.completed':
        newLines.push(...this.#flushPartial(vertex, event.at));
        vertex.completed = event.at;
        break;
      case 'vertex.error':
        newLines.push(...this.#flushPartial(vertex, event.at));
        vertex.error = event.error;
        vertex.completed = event.at;
        break;
      case 'vertex.canceled':
        newLines.push(...this.#flushPartial(vertex, event.at));
        vertex.canceled = true;
        vertex.completed = event.at;
        break;
      case 'vertex.cache-miss':
        vertex.miss = event;
        break;
    }
    return { vertex, newLines };
  }

  #vertex(digest: Digest): VertexView {
    let vertex = this.vertices.get(digest);
    if (vertex === undefined) {
      vertex = {
        digest,
        number: this.vertices.size + 1,
        name: digest,
        cached: false,
        canceled: false,
        lines: [],
        partial: { stdout: '', stderr: '' },
        statuses: new Map(),
      };
      this.vertices.set(digest, vertex);
    }
    return vertex;
  }

  #appendLog(
    vertex: VertexView,
    stream: 'stdout' | 'stderr',
    data: Uint8Array,
    at: number,
  ): LogLine[] {
    const text = vertex.partial[stream] + Buffer.from(data).toString('utf8');
    const pieces = text.split('\n');
    vertex.partial[stream] = pieces.pop() ?? '';
    const lines = pieces.map((piece) => ({ at, stream, text: piece.replace(/\r$/, '') }));
    vertex.lines.push(...lines);
    return lines;
  }

  #flushPartial(vertex: VertexView, at: number): LogLine[] {
    const lines: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      if (vertex.partial[stream] !== '') {
        lines.push({ at, stream, text: vertex.partial[stream] });
        vertex.partial[stream] = '';
      }
    }
    vertex.lines.push(...lines);
    return lines;
  }
}

/**
 * A status as BuildKit shows it: its id, then bytes (`3.2MB / 3.2MB`) when it
 * counts any; a sub-task that counts nothing (`naming to …`) is its id alone.
 */
export function statusLabel(status: StatusView): string {
  if (status.total !== undefined)
    return `${status.id} ${formatBytes(status.current)} / ${formatBytes(status.total)}`;
  return status.current === 0 ? status.id : `${status.id} ${formatBytes(status.current)}`;
}

/** Milliseconds a status ran: to its last update once done, to `now` while it runs. */
export function statusDuration(status: StatusView, now: number): number {
  return (status.completed ? status.updated : now) - status.started;
}

/** Seconds as BuildKit prints them: `0.4s`, `12.3s`. */
export function formatSeconds(milliseconds: number): string {
  return `${(Math.max(0, milliseconds) / 1000).toFixed(1)}s`;
}

/** Elapsed time before a plain log line: 3 decimals under 10 s, 2 under 100 s, else 1. */
export function formatLogElapsed(milliseconds: number): string {
  const seconds = Math.max(0, milliseconds) / 1000;
  if (seconds < 10) return seconds.toFixed(3);
  if (seconds < 100) return seconds.toFixed(2);
  return seconds.toFixed(1);
}

/** Byte counts for status lines, as BuildKit's units.HumanSize: `2.3kB`, `15.1MB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0
    ? `${String(value)}B`
    : `${value.toFixed(value < 10 ? 2 : 1)}${units[unit] ?? ''}`;
}
