import { closeSync, constants, openSync } from 'node:fs';
import { TbuildError } from '../../core/index.js';
import type { LayerFs } from './layer-fs.js';

/** Bytes and files per native read call: a call costs a promise, a slot a copy. */
const BATCH_BYTES = 2 * 1024 * 1024;
const BATCH_FILES = 32;
/** Batches read ahead of the one the tar writer waits for (libuv has four threads). */
const READ_AHEAD = 3;

export interface SmallFile {
  readonly name: string;
  readonly size: number;
}

/** A file's size differs from its lstat: it changed while the layer was read. */
export class SizeChanged extends Error {
  readonly grew: boolean;
  readonly file: string;

  constructor(file: string, grew: boolean) {
    super(`${grew ? 'grew' : 'shrank'} while it was read`);
    this.file = file;
    this.grew = grew;
  }
}

interface Batch {
  readonly first: number;
  readonly end: number;
  /** What the files are read into: handed back to the pool once the caller is past them. */
  readonly buffer: Buffer;
  /** The read is over (failed or not): nothing writes the buffer any more. */
  done: boolean;
  /** Each file's body (or how its size changed), in order; read on a libuv thread. */
  readonly bodies: Promise<(Buffer | SizeChanged)[]>;
}

/**
 * Read buffers used again from one batch to the next. A fresh buffer per batch
 * is fresh memory the kernel faults in page by page for every batch (a 20k-file
 * layer reads ~600 batches); a few reused ones are faulted in once.
 */
export class BatchBuffers {
  readonly #spare: Buffer[] = [];

  /** A buffer of at least `bytes` bytes: a spare one when one is big enough. */
  take(bytes: number): Buffer {
    const index = this.#spare.findIndex((buffer) => buffer.length >= bytes);
    if (index >= 0) return this.#spare.splice(index, 1)[0] as Buffer;
    return Buffer.allocUnsafeSlow(Math.max(bytes, BATCH_BYTES));
  }

  /** Gives back a buffer from take(): nothing may read or write it any more. */
  give(buffer: Buffer): void {
    if (this.#spare.length < SPARE_BUFFERS) this.#spare.push(buffer);
  }
}

/** Buffers kept for reuse: the batches in flight, and one more. */
const SPARE_BUFFERS = READ_AHEAD + 2;

/**
 * Reads the small regular files of one directory, in order, on libuv threads
 * a few batches ahead of the caller: the tar writer encodes headers and
 * stats the next entries while the kernel opens and reads files elsewhere
 * (open, read and close of a 6 KB file cost ~15 µs here, the bulk of a
 * 20k-file layer). Each file is read one byte past its size, so a file that
 * changed since its lstat is noticed. `close()` must run (it waits for reads
 * in flight before closing the directory).
 */
export class SmallFileReader {
  readonly #fs: LayerFs;
  readonly #files: readonly SmallFile[];
  /** Batches started and not yet passed by the caller, in order. */
  readonly #batches: Batch[] = [];
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #dirPath: string;
  readonly #buffers: BatchBuffers;
  #dirFd = -1;
  #nextFirst = 0;

  /** `buffers` may be shared by the readers of one walk, one directory after another. */
  constructor(
    fs: LayerFs,
    dirPath: string,
    files: readonly SmallFile[],
    buffers = new BatchBuffers(),
  ) {
    this.#fs = fs;
    this.#dirPath = dirPath;
    this.#files = files;
    this.#buffers = buffers;
  }

  /**
   * The body of file `index` (asked in increasing order): exactly its size, or
   * SizeChanged. It is a view of a read buffer, valid until a body of a later
   * batch is asked for or the reader is closed: copy it before.
   */
  async body(index: number): Promise<Buffer> {
    // Batches passed are dropped, so a big directory never holds more than a few in memory.
    this.#passBefore(index);
    while (this.#nextFirst <= index || this.#batches.length <= READ_AHEAD) {
      if (!this.#startNext()) break;
      this.#passBefore(index);
    }
    const batch = this.#batches[0];
    if (batch === undefined || index < batch.first)
      throw new TbuildError('TB_INTERNAL', `no small file ${String(index)} in this directory`);
    const bodies = await batch.bodies;
    const body = bodies[index - batch.first];
    if (body === undefined)
      throw new TbuildError('TB_INTERNAL', `no small file ${String(index)} in this directory`);
    if (body instanceof SizeChanged) throw body;
    return body;
  }

  /** Waits for reads in flight, then closes the directory; the bodies it gave are no longer valid. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#inFlight);
    if (this.#dirFd >= 0) closeSync(this.#dirFd);
    this.#dirFd = -1;
    for (const batch of this.#batches.splice(0)) this.#buffers.give(batch.buffer);
  }

  /** Drops the batches wholly before file `index`: their reads are done (the caller had their bodies). */
  #passBefore(index: number): void {
    while (this.#batches[0] !== undefined && this.#batches[0].end <= index) {
      const passed = this.#batches.shift() as Batch;
      if (passed.done) this.#buffers.give(passed.buffer);
    }
  }

  #startNext(): boolean {
    const first = this.#nextFirst;
    if (first >= this.#files.length) return false;
    let end = first;
    let bytes = 0;
    while (end < this.#files.length && end - first < BATCH_FILES) {
      const size = (this.#files[end]?.size ?? 0) + 1;
      if (end > first && bytes + size > BATCH_BYTES) break;
      bytes += size;
      end += 1;
    }
    if (this.#dirFd < 0)
      this.#dirFd = openSync(this.#dirPath, constants.O_RDONLY | constants.O_DIRECTORY);
    const files = this.#files.slice(first, end);
    const buffer = this.#buffers.take(bytes);
    const limits = files.map((file) => file.size + 1);
    const read = this.#fs.readFilesAt(
      this.#dirFd,
      files.map((file) => file.name),
      limits,
      buffer,
    );
    const bodies = read.then((counts) => {
      let offset = 0;
      return files.map((file, index) => {
        const count = counts[index] ?? 0;
        const body =
          count === file.size
            ? buffer.subarray(offset, offset + file.size)
            : new SizeChanged(file.name, count > file.size);
        offset += file.size + 1;
        return body;
      });
    });
    // Read ahead: a failure surfaces when (and if) the caller asks for the batch.
    const batch: Batch = { first, end, buffer, bodies, done: false };
    // Registered before any caller awaits the bodies, so it runs first: a caller that
    // had them finds the batch done.
    const settled = bodies.then(
      () => {
        batch.done = true;
      },
      () => {
        batch.done = true;
      },
    );
    this.#inFlight.add(settled);
    void settled.then(() => this.#inFlight.delete(settled));
    this.#batches.push(batch);
    this.#nextFirst = end;
    return true;
  }
}
