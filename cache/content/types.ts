import type { Readable } from 'node:stream';
import type { Digest } from '../../core/index.js';

/**
 * The content store's roles, after containerd's core/content: a reader
 * (Provider), a writer (Ingester), and bookkeeping (Manager), composed into
 * ContentStore. Callers take only the role they need.
 *
 * Lifecycle: a write is invisible until its bytes are complete and verified;
 * then it appears at once under its digest. Bytes that do not match the
 * expected digest or size are never visible. Writing a blob that is already
 * there is a normal outcome (`created: false`), not an error.
 */

export interface BlobInfo {
  readonly digest: Digest;
  readonly size: number;
  /** When this copy of the blob was written (ms since the epoch). */
  readonly createdAt: number;
}

/** What a writer knows about the bytes before it has them; both optional. */
export interface Expected {
  readonly digest?: Digest;
  readonly size?: number;
}

export interface WriteOptions {
  readonly signal: AbortSignal;
  readonly expected?: Expected;
  /** Called with the digest once it is known and before the blob becomes visible (a lease add). */
  readonly beforeCommit?: (digest: Digest, signal: AbortSignal) => Promise<void>;
}

export interface WriteResult {
  readonly digest: Digest;
  readonly size: number;
  /** False when the blob was already there; the store's copy is then left as it was. */
  readonly created: boolean;
}

export interface ReadOptions {
  readonly signal: AbortSignal;
}

export interface ContentProvider {
  /**
   * The blob's bytes. The stream hashes as it goes and fails with
   * TB_CONTENT_CORRUPT at the end if they do not match the digest, so a
   * consumer must treat what it wrote as unusable until the stream ends cleanly.
   * A blob found corrupt is removed. Rejects with TB_CONTENT_NOT_FOUND.
   */
  readStream(digest: Digest, options: ReadOptions): Promise<Readable>;
  /** The whole blob, verified before it is returned. */
  readBuffer(digest: Digest, options: ReadOptions): Promise<Buffer>;
}

export interface ContentIngester {
  writeBuffer(data: Uint8Array, options: WriteOptions): Promise<WriteResult>;
  writeStream(source: Readable, options: WriteOptions): Promise<WriteResult>;
}

export interface ContentManager {
  /** Undefined when the blob is absent. Does not read the bytes. */
  info(digest: Digest): Promise<BlobInfo | undefined>;
  /** Reads the blob and checks its digest; a corrupt blob is removed and reported false. */
  verify(digest: Digest, options: ReadOptions): Promise<boolean>;
  /** True when a blob was removed. */
  delete(digest: Digest): Promise<boolean>;
  /** Every blob, in no particular order. */
  walk(visit: (info: BlobInfo) => void | Promise<void>, options: ReadOptions): Promise<void>;
}

export interface ContentStore extends ContentProvider, ContentIngester, ContentManager {}
