import type { Readable } from 'node:stream';
import { Readable as ReadableStream } from 'node:stream';
import { TbuildError, sha256Digest, throwIfAborted, type Digest } from '../../core/index.js';
import { corruptError } from './verify-stream.js';
import type { BlobInfo, ContentStore, ReadOptions, WriteOptions, WriteResult } from './types.js';

/**
 * A content store in memory, for tests of other modules that need a store
 * without a root. It passes the same conformance suite as the fs store.
 * `corrupt()` lets a test damage a blob as a disk would.
 */
export class MemoryContentStore implements ContentStore {
  private readonly blobs = new Map<Digest, { data: Buffer; createdAt: number }>();

  info(digest: Digest): Promise<BlobInfo | undefined> {
    const blob = this.blobs.get(digest);
    return Promise.resolve(
      blob === undefined
        ? undefined
        : { digest, size: blob.data.length, createdAt: blob.createdAt },
    );
  }

  async readStream(digest: Digest, options: ReadOptions): Promise<Readable> {
    const data = await this.readBuffer(digest, options);
    return ReadableStream.from([data]);
  }

  readBuffer(digest: Digest, options: ReadOptions): Promise<Buffer> {
    throwIfAborted(options.signal);
    const blob = this.blobs.get(digest);
    if (blob === undefined) {
      return Promise.reject(
        new TbuildError('TB_CONTENT_NOT_FOUND', `blob ${digest} is not in the content store`),
      );
    }
    const found = sha256Digest(blob.data);
    if (found !== digest) {
      this.blobs.delete(digest);
      return Promise.reject(corruptError(digest, found, blob.data.length));
    }
    return Promise.resolve(Buffer.from(blob.data));
  }

  async verify(digest: Digest, options: ReadOptions): Promise<boolean> {
    try {
      await this.readBuffer(digest, options);
      return true;
    } catch (error) {
      if (error instanceof TbuildError && error.code === 'TB_CONTENT_CORRUPT') return false;
      throw error;
    }
  }

  delete(digest: Digest): Promise<boolean> {
    return Promise.resolve(this.blobs.delete(digest));
  }

  async walk(visit: (info: BlobInfo) => void | Promise<void>, options: ReadOptions): Promise<void> {
    for (const [digest, blob] of [...this.blobs]) {
      throwIfAborted(options.signal);
      await visit({ digest, size: blob.data.length, createdAt: blob.createdAt });
    }
  }

  async writeBuffer(data: Uint8Array, options: WriteOptions): Promise<WriteResult> {
    throwIfAborted(options.signal);
    const digest = sha256Digest(data);
    const expected = options.expected ?? {};
    if (
      (expected.digest !== undefined && expected.digest !== digest) ||
      (expected.size !== undefined && expected.size !== data.length)
    ) {
      throw new TbuildError(
        'TB_CONTENT_UNEXPECTED',
        `expected ${expected.digest ?? String(expected.size)} but got ${digest}`,
      );
    }
    await options.beforeCommit?.(digest, options.signal);
    const existing = this.blobs.get(digest);
    const created = existing === undefined || sha256Digest(existing.data) !== digest;
    if (created) this.blobs.set(digest, { data: Buffer.from(data), createdAt: Date.now() });
    return { digest, size: data.length, created };
  }

  async writeStream(source: Readable, options: WriteOptions): Promise<WriteResult> {
    const chunks: Buffer[] = [];
    for await (const chunk of source) {
      throwIfAborted(options.signal);
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    }
    return this.writeBuffer(Buffer.concat(chunks), options);
  }

  /** Flips one byte of a stored blob, as bit rot would. For tests. */
  corrupt(digest: Digest, offset = 0): void {
    const blob = this.blobs.get(digest);
    if (blob === undefined || blob.data.length === 0) return;
    const at = Math.min(offset, blob.data.length - 1);
    blob.data[at] = (blob.data[at] ?? 0) ^ 0xff;
  }
}
