import { throwIfAborted } from '../../core/index.js';
import { nativeFs, type NativeFs } from '../../runtime/index.js';

export type BatchFs = Pick<NativeFs, 'copyFiles' | 'linkFiles'>;

/** What a copied file is given: ownership, permission bits, and times in whole milliseconds. */
export interface CopiedFile {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
}

/** Files per native call: large enough to amortise the thread hop, small enough to overlap. */
const BATCH_FILES = 64;
/**
 * Calls in flight. libuv's pool has four threads; on two cores more than two
 * calls only queue, and each waiting batch holds its names in memory.
 */
const IN_FLIGHT = 3;

interface CopyBatch {
  readonly kind: 'copy';
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly names: string[];
  readonly attributes: number[];
}

interface LinkBatch {
  readonly kind: 'link';
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly names: string[];
  /** What each name is copied from when it cannot be linked (the earlier file gone, too many links). */
  readonly fallbacks: LinkFallback[];
}

interface LinkFallback {
  readonly sourceDir: string;
  readonly file: CopiedFile;
  readonly onCopied?: () => void;
}

/**
 * Queues COPY's file writes and hard links, a directory's worth per native
 * call on libuv threads (runtime/native/src/copy_files.cc), while the caller
 * walks on. A file is queued only into a directory that exists and where
 * nothing of its name exists yet; the caller sets directories' own metadata
 * after `flush`, since every entry made inside a directory changes its mtime.
 */
export class BatchWriter {
  readonly #fs: BatchFs;
  readonly #signal: AbortSignal | undefined;
  readonly #open = new Map<string, CopyBatch | LinkBatch>();
  readonly #inFlight = new Set<Promise<void>>();
  /** The batch #batch gave last. */
  #last: CopyBatch | LinkBatch | undefined;
  #failure: { error: unknown } | undefined;

  constructor(options: { fs?: BatchFs; signal?: AbortSignal } = {}) {
    this.#fs = options.fs ?? nativeFs;
    this.#signal = options.signal;
  }

  /** Queues a copy of `sourceDir/name` to a new file `targetDir/name`. */
  async copy(sourceDir: string, targetDir: string, name: string, file: CopiedFile): Promise<void> {
    const batch = this.#queueCopy(sourceDir, targetDir, name, file);
    if (batch.names.length >= BATCH_FILES) await this.#submit(batch);
  }

  /**
   * Queues a hard link of `earlierDir/name` as `targetDir/name`. When the link
   * cannot be made, `sourceDir/name` is copied instead and `onCopied` is told.
   */
  async link(
    earlierDir: string,
    targetDir: string,
    name: string,
    fallback: { sourceDir: string; file: CopiedFile; onCopied?: () => void },
  ): Promise<void> {
    const batch = this.#batch('link', earlierDir, targetDir);
    batch.names.push(name);
    batch.fallbacks.push(fallback);
    if (batch.names.length >= BATCH_FILES) await this.#submit(batch);
  }

  /** Sends every queued batch and waits until all have landed; throws the first failure. */
  async flush(): Promise<void> {
    while (this.#open.size > 0 || this.#inFlight.size > 0) {
      for (const batch of [...this.#open.values()]) await this.#submit(batch);
      await Promise.all(this.#inFlight);
    }
    if (this.#failure !== undefined) throw this.#failure.error;
    throwIfAborted(this.#signal);
  }

  #queueCopy(sourceDir: string, targetDir: string, name: string, file: CopiedFile): CopyBatch {
    const batch = this.#batch('copy', sourceDir, targetDir);
    batch.names.push(name);
    batch.attributes.push(
      file.uid,
      file.gid,
      file.mode,
      ...splitMs(file.atimeMs),
      ...splitMs(file.mtimeMs),
    );
    return batch;
  }

  /** Drops what is queued and waits for the calls in flight: after a failure, nothing writes on. */
  async abandon(): Promise<void> {
    this.#open.clear();
    // The tracked calls never reject (their failure is kept in #failure).
    await Promise.all([...this.#inFlight]);
  }

  #batch(kind: 'copy', from: string, to: string): CopyBatch;
  #batch(kind: 'link', from: string, to: string): LinkBatch;
  #batch(kind: 'copy' | 'link', from: string, to: string): CopyBatch | LinkBatch {
    // Files come a directory at a time: the batch asked for last is most often the one.
    const last = this.#last;
    if (last?.kind === kind && last.from === from && last.to === to && this.#open.has(last.key)) {
      return last;
    }
    const key = `${kind}\0${from}\0${to}`;
    let batch = this.#open.get(key);
    if (batch === undefined) {
      batch =
        kind === 'copy'
          ? { kind, key, from, to, names: [], attributes: [] }
          : { kind, key, from, to, names: [], fallbacks: [] };
      this.#open.set(key, batch);
    }
    this.#last = batch;
    return batch;
  }

  async #submit(batch: CopyBatch | LinkBatch): Promise<void> {
    this.#open.delete(batch.key);
    while (this.#inFlight.size >= IN_FLIGHT) await Promise.race(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure.error;
    throwIfAborted(this.#signal);
    const call = this.#run(batch).catch((error: unknown) => {
      this.#failure ??= { error };
    });
    const tracked = call.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  async #run(batch: CopyBatch | LinkBatch): Promise<void> {
    if (batch.kind === 'copy') {
      await this.#fs.copyFiles(
        batch.from,
        batch.to,
        batch.names,
        Float64Array.from(batch.attributes),
      );
      return;
    }
    const results = await this.#fs.linkFiles(batch.from, batch.to, batch.names);
    results.forEach((errno, index) => {
      const fallback = batch.fallbacks[index];
      const name = batch.names[index];
      if (errno === 0 || fallback === undefined || name === undefined) return;
      // Queued, not sent: flush() sends what its batches left behind.
      this.#queueCopy(fallback.sourceDir, batch.to, name, fallback.file);
      fallback.onCopied?.();
    });
  }
}

/** Whole seconds and nanoseconds of a time in milliseconds (floored, so times before 1970 work). */
function splitMs(ms: number): [number, number] {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.min(999_999_999, Math.floor((ms - seconds * 1000) * 1e6))];
}
