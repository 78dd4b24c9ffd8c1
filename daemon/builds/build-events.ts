import { readFile } from 'node:fs/promises';
import type { WriteStream } from 'node:fs';

/** Someone following a build's progress: each status line with its number, then the end. */
export interface EventListener {
  event(id: number, line: string): void;
  end(): void;
}

/**
 * A build's progress as one recorded sequence: status lines (JSON, as
 * `--progress=rawjson` prints them) numbered from 1. Any number of watchers
 * follow it; a late one replays from the start, or from the number after
 * `Last-Event-ID`. The lines are also appended to events.jsonl, from which a
 * finished build is replayed after the live sequence is gone (or after a restart).
 */
export class BuildEvents {
  readonly #lines: string[];
  readonly #listeners = new Set<EventListener>();
  readonly #file: WriteStream | undefined;
  #ended: boolean;

  constructor(file: WriteStream | undefined, lines: string[] = [], ended = false) {
    this.#file = file;
    this.#lines = lines;
    this.#ended = ended;
  }

  /** A finished build's sequence, read back from its events.jsonl (empty if there is none). */
  static async recorded(path: string): Promise<BuildEvents> {
    const text = await readFile(path, 'utf8').catch(() => '');
    const lines = text.split('\n').filter((line) => line !== '');
    // Lines are appended whole; only the last can be cut (by a crash mid-write).
    const last = lines.at(-1);
    if (last !== undefined && !isJson(last)) lines.pop();
    return new BuildEvents(undefined, lines, true);
  }

  get size(): number {
    return this.#lines.length;
  }

  get ended(): boolean {
    return this.#ended;
  }

  append(line: string): void {
    if (this.#ended) return;
    this.#lines.push(line);
    this.#file?.write(`${line}\n`);
    const id = this.#lines.length;
    for (const listener of this.#listeners) listener.event(id, line);
  }

  /** Ends the sequence; resolves once events.jsonl is flushed. */
  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    for (const listener of this.#listeners) listener.end();
    this.#listeners.clear();
    const file = this.#file;
    if (file !== undefined) await new Promise<void>((resolve) => file.end(resolve));
  }

  /** Replays the lines numbered after `after`, then follows live ones; returns the unsubscribe. */
  subscribe(after: number, listener: EventListener): () => void {
    for (let index = Math.max(0, after); index < this.#lines.length; index++)
      listener.event(index + 1, this.#lines[index] ?? '');
    if (this.#ended) {
      listener.end();
      return () => undefined;
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}
