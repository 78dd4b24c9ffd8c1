import { createHash } from 'node:crypto';
import { createWriteStream, type Stats } from 'node:fs';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import {
  TbuildError,
  isDigest,
  sha256Digest,
  throwIfAborted,
  type Digest,
  type Logger,
  type WriteFaults,
} from '../../core/index.js';
import { errnoCode, isNotFound, listDir, storeIoError } from '../fs/atomic.js';
import { tempNameFor } from '../fs/process-owner.js';
import { blobPath, type StoreLayout } from '../layout.js';
import { corruptError, verifyingStream } from './verify-stream.js';
import type {
  BlobInfo,
  ContentStore,
  Expected,
  ReadOptions,
  WriteOptions,
  WriteResult,
} from './types.js';

export interface FsContentStoreOptions {
  readonly layout: StoreLayout;
  readonly logger: Logger;
  /** fsync each blob before it becomes visible (default true). */
  readonly durable?: boolean;
  /** The test seam that fails chosen writes (see core/faults.ts). */
  readonly faults?: WriteFaults | undefined;
}

function notFound(digest: Digest): TbuildError {
  return new TbuildError('TB_CONTENT_NOT_FOUND', `blob ${digest} is not in the content store`, {
    details: { digest },
  });
}

function unexpected(expected: Expected, digest: Digest, size: number): TbuildError {
  const wanted = expected.digest ?? `${String(expected.size)} bytes`;
  return new TbuildError(
    'TB_CONTENT_UNEXPECTED',
    `expected ${wanted} but got ${digest} (${String(size)} bytes)`,
    { details: { expected, digest, size } },
  );
}

/**
 * Blobs as files at `blobs/sha256/<hex>`. Writers stream into a temp file
 * named by pid, thread and a random part (so threads and processes never
 * share one), hash while writing, and rename into place only after the digest
 * and size check out: a blob path holds complete, verified bytes or nothing.
 * Concurrent writers of one blob each rename a full copy; the last rename wins
 * and both copies are the same bytes.
 */
export class FsContentStore implements ContentStore {
  private readonly durable: boolean;
  /** Writes in flight in this instance, by expected digest, so a second writer waits. */
  private readonly inFlight = new Map<Digest, Promise<WriteResult>>();
  private readonly options: FsContentStoreOptions;

  constructor(options: FsContentStoreOptions) {
    this.options = options;
    this.durable = options.durable ?? true;
  }

  async info(digest: Digest): Promise<BlobInfo | undefined> {
    const path = blobPath(this.options.layout, digest);
    try {
      const stats = await stat(path);
      return { digest, size: stats.size, createdAt: stats.mtimeMs };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storeIoError('stat', path, error);
    }
  }

  async readStream(digest: Digest, options: ReadOptions): Promise<Readable> {
    throwIfAborted(options.signal);
    const handle = await this.openBlob(digest);
    const opened = await handle.stat();
    const verifier = verifyingStream(digest, () => this.dropCorrupt(digest, opened));
    pipeline(handle.createReadStream(), verifier, { signal: options.signal }).catch(
      () => undefined, // the error reaches the consumer through `verifier`
    );
    return verifier;
  }

  async readBuffer(digest: Digest, options: ReadOptions): Promise<Buffer> {
    throwIfAborted(options.signal);
    const handle = await this.openBlob(digest);
    try {
      const data = await handle.readFile({ signal: options.signal });
      const found = sha256Digest(data);
      if (found !== digest) {
        await this.dropCorrupt(digest, await handle.stat());
        throw corruptError(digest, found, data.length);
      }
      return data;
    } finally {
      await handle.close();
    }
  }

  async verify(digest: Digest, options: ReadOptions): Promise<boolean> {
    try {
      const stream = await this.readStream(digest, options);
      stream.resume();
      await finished(stream);
      return true;
    } catch (error) {
      if (error instanceof TbuildError && error.code === 'TB_CONTENT_CORRUPT') return false;
      throw error;
    }
  }

  async delete(digest: Digest): Promise<boolean> {
    const path = blobPath(this.options.layout, digest);
    try {
      await unlink(path);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw storeIoError('remove', path, error);
    }
  }

  async walk(visit: (info: BlobInfo) => void | Promise<void>, options: ReadOptions): Promise<void> {
    const names = await listDir(this.options.layout.blobs);
    for (const name of names) {
      throwIfAborted(options.signal);
      const digest = `sha256:${name}`;
      if (!isDigest(digest)) continue;
      const info = await this.info(digest);
      if (info !== undefined) await visit(info);
    }
  }

  async writeBuffer(data: Uint8Array, options: WriteOptions): Promise<WriteResult> {
    return this.dedupe(options, async () => {
      const digest = sha256Digest(data);
      this.check(options.expected ?? {}, digest, data.length);
      // As pnpm does: the bytes are in hand, so an existing copy is checked; a corrupt one is dropped and rewritten.
      if ((await this.present(digest, data.length)) && (await this.verify(digest, options))) {
        return { digest, size: data.length, created: false };
      }
      const tmp = join(this.options.layout.tmp, tempNameFor());
      try {
        this.options.faults?.write(tmp);
        const handle = await open(tmp, 'wx', 0o644);
        try {
          await handle.writeFile(data, { signal: options.signal });
          if (this.durable) await handle.sync();
        } finally {
          await handle.close();
        }
        return await this.commit(tmp, digest, data.length, options);
      } catch (error) {
        if (error instanceof TbuildError) throw error;
        throwIfAborted(options.signal);
        throw storeIoError('write', tmp, error);
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
    });
  }

  async writeStream(source: Readable, options: WriteOptions): Promise<WriteResult> {
    return this.dedupe(
      options,
      async () => {
        const expected = options.expected ?? {};
        if (expected.digest !== undefined && (await this.present(expected.digest, expected.size))) {
          source.destroy();
          const info = await this.info(expected.digest);
          return { digest: expected.digest, size: info?.size ?? 0, created: false };
        }
        const tmp = join(this.options.layout.tmp, tempNameFor());
        const hash = createHash('sha256');
        let size = 0;
        const faults = this.options.faults;
        const hasher = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            hash.update(chunk);
            // A second chance for the seam, once bytes are on disk: a write failing midway.
            if (size === 0 && faults !== undefined) {
              try {
                faults.write(tmp);
              } catch (error) {
                callback(error as Error);
                return;
              }
            }
            size += chunk.length;
            callback(null, chunk);
          },
        });
        try {
          this.options.faults?.write(tmp);
          const out = createWriteStream(tmp, { flags: 'wx', mode: 0o644, flush: this.durable });
          await pipeline(source, hasher, out, { signal: options.signal });
          const digest = `sha256:${hash.digest('hex')}` as Digest;
          this.check(expected, digest, size);
          return await this.commit(tmp, digest, size, options);
        } catch (error) {
          if (error instanceof TbuildError) throw error;
          throwIfAborted(options.signal);
          throw storeIoError('write', tmp, error);
        } finally {
          await unlink(tmp).catch(() => undefined);
        }
      },
      source,
    );
  }

  /** One write per expected digest at a time in this instance; later ones reuse its result. */
  private async dedupe(
    options: WriteOptions,
    write: () => Promise<WriteResult>,
    source?: Readable,
  ): Promise<WriteResult> {
    throwIfAborted(options.signal);
    const key = options.expected?.digest;
    if (key === undefined) return write();
    const running = this.inFlight.get(key);
    if (running !== undefined) {
      const settled = await running.then(
        (result) => result,
        () => undefined,
      );
      if (settled !== undefined) {
        source?.destroy();
        return { ...settled, created: false };
      }
    }
    const mine = write();
    this.inFlight.set(key, mine);
    try {
      return await mine;
    } finally {
      if (this.inFlight.get(key) === mine) this.inFlight.delete(key);
    }
  }

  private check(expected: Expected, digest: Digest, size: number): void {
    const digestOk = expected.digest === undefined || expected.digest === digest;
    const sizeOk = expected.size === undefined || expected.size === size;
    if (!digestOk || !sizeOk) throw unexpected(expected, digest, size);
  }

  /** A blob counts as present when its file exists with the right size; bytes are checked on read. */
  private async present(digest: Digest, size: number | undefined): Promise<boolean> {
    const info = await this.info(digest);
    return info !== undefined && (size === undefined || info.size === size);
  }

  private async commit(
    tmp: string,
    digest: Digest,
    size: number,
    options: WriteOptions,
  ): Promise<WriteResult> {
    await options.beforeCommit?.(digest, options.signal);
    const existed = await this.present(digest, size);
    const path = blobPath(this.options.layout, digest);
    // Renaming over an existing copy is harmless (same bytes) and repairs a damaged one.
    await rename(tmp, path).catch((error: unknown) => {
      throw storeIoError('commit', path, error);
    });
    return { digest, size, created: !existed };
  }

  private async openBlob(digest: Digest): Promise<FileHandle> {
    const path = blobPath(this.options.layout, digest);
    try {
      return await open(path, 'r');
    } catch (error) {
      if (isNotFound(error)) throw notFound(digest);
      throw storeIoError('open', path, error);
    }
  }

  /**
   * Removes a blob found corrupt, unless a writer has meanwhile renamed a good
   * copy over it (then the path is another inode than the one that was read).
   */
  private async dropCorrupt(digest: Digest, read: Stats): Promise<void> {
    const path = blobPath(this.options.layout, digest);
    try {
      const current = await stat(path);
      if (read.ino === current.ino && read.dev === current.dev) await unlink(path);
      this.options.logger.warn('removed a corrupt blob', { digest });
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') {
        this.options.logger.warn('could not remove a corrupt blob', {
          digest,
          error: String(error),
        });
      }
    }
  }
}
