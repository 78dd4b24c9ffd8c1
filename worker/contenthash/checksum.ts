import { createHash, hash } from 'node:crypto';
import { lstatSync, readlinkSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { join, posix } from 'node:path';
import { TbuildError, throwIfAborted, type Digest } from '../../core/index.js';
import { nativeFs, type ScannedEntry } from '../../runtime/index.js';
import { InlinePool, TimeSlicer, type ThreadPool } from '../threads/index.js';
import type { StatCache } from './stat-cache.js';

/** Files up to this size go to the pool in batches; a larger one is a task of its own. */
const SMALL_FILE_LIMIT = 64 * 1024;
/** A batch is sent when it holds this many files or bytes: one thread round trip per batch. */
const BATCH_FILES = 128;
const BATCH_BYTES = 4 * 1024 * 1024;
/** A walk that found no more than this to hash hashes it on its own thread (PoolHashing.settle). */
const INLINE_FILES = 8;
const INLINE_BYTES = 256 * 1024;
const INLINE = new InlinePool();

export interface ChecksumOptions {
  /** The directory paths are relative to (a context directory or a snapshot). */
  readonly root: string;
  readonly statCache: StatCache;
  readonly pool: ThreadPool;
  /**
   * Whether uid and gid are part of the checksum. Not for a local context: COPY
   * gives context files to root unless --chown says otherwise, so host owners
   * cannot change the result.
   */
  readonly includeOwnership: boolean;
  /** Paths (relative, slash-separated) left out, e.g. by .dockerignore. */
  readonly excludes?: (path: string) => boolean;
  readonly signal?: AbortSignal;
}

/**
 * The content checksum of a path: what a COPY of it depends on. A file's is
 * its type, permission bits (with setuid/setgid/sticky), owner when asked, link
 * target, and the sha256 of its bytes; a directory's is its own header plus the
 * sorted names and checksums of its children. mtime is never part of it, so
 * touching files keeps the cache while changing a byte or a mode does not.
 *
 * Three phases, so a context of 20k small files costs 20k lstats on this
 * thread and little else: a walk in time slices (see TimeSlicer; a thread-pool
 * round trip per call would cost several times the syscall), one synchronous
 * nativeFs.scanDirectory per directory (readdir and every entry's lstat in C,
 * half the cost of lstatSync and no BigIntStats per entry), that sends files
 * without a remembered digest to the thread pool as it finds them
 * (PoolHashing); a wait for those; then the digests, bottom up, with no
 * promise per entry.
 */
export async function checksumPath(path: string, options: ChecksumOptions): Promise<Digest> {
  throwIfAborted(options.signal);
  const hashing = new PoolHashing(options);
  try {
    const root = await walkTree(cleanRelative(path), options, hashing);
    await hashing.settle();
    return entryDigest(root);
  } catch (error) {
    hashing.abandon();
    throw error;
  }
}

/** One entry of the walked tree; a file's digest arrives later when the pool hashes it. */
type Entry =
  | { readonly kind: 'dir'; readonly header: string; readonly children: [string, Entry][] }
  | { readonly kind: 'file'; readonly header: string; content: string }
  | { readonly kind: 'link'; readonly header: string; readonly target: string }
  | { readonly kind: 'other'; readonly header: string };

async function walkTree(
  relative: string,
  options: ChecksumOptions,
  hashing: PoolHashing,
): Promise<Entry> {
  const slicer = new TimeSlicer(options.signal);
  // The root is one path, not a listing: plain lstat.
  const rootAbsolute = join(options.root, relative);
  const root = visit(rootAbsolute, lstatSync(rootAbsolute, { bigint: true }), options, hashing);
  const directories: [string, string, Entry & { kind: 'dir' }][] =
    root.kind === 'dir' ? [[relative, rootAbsolute, root]] : [];
  for (let next = directories.pop(); next !== undefined; next = directories.pop()) {
    const [dirRelative, dirAbsolute, dir] = next;
    // join() would normalize each child path again (~0.5 µs); a readdir name is one
    // plain component, so appending it keeps the directory's normalized path normal.
    const prefix = dirAbsolute.endsWith('/') ? dirAbsolute : `${dirAbsolute}/`;
    for (const stats of nativeFs.scanDirectory(dirAbsolute).sortedEntries()) {
      if (slicer.due()) await slicer.pause();
      if (hashing.full()) await hashing.room();
      const name = stats.name;
      const child = dirRelative === '' ? name : `${dirRelative}/${name}`;
      if (options.excludes?.(child) === true) continue;
      if (!stats.nameIsUtf8) throw notUtf8(child);
      const absolute = prefix + name;
      const entry = visit(absolute, stats, options, hashing);
      dir.children.push([name, entry]);
      if (entry.kind === 'dir') directories.push([child, absolute, entry]);
    }
  }
  return root;
}

/**
 * The lstat of an entry: BigIntStats for the walk's root, a ScannedEntry below it. Both
 * print dev, ino and times alike, so headers and stat-cache identities do not depend on
 * which one it was.
 */
type EntryStats = BigIntStats | ScannedEntry;

/** Header of one entry; a file's digest comes from the stat cache or the pool. */
function visit(
  absolute: string,
  stats: EntryStats,
  options: ChecksumOptions,
  hashing: PoolHashing,
): Entry {
  const header = headerJson(stats, options.includeOwnership);
  if (stats.isDirectory()) return { kind: 'dir', header, children: [] };
  if (stats.isSymbolicLink()) return { kind: 'link', header, target: readlinkSync(absolute) };
  if (!stats.isFile()) return { kind: 'other', header };
  const known = options.statCache.get(absolute, stats);
  if (known !== undefined) return { kind: 'file', header, content: known };
  const entry: FileEntry = { kind: 'file', header, content: '' };
  hashing.add(absolute, stats, entry);
  return entry;
}

/**
 * A JS string cannot name such a file (readdir gives U+FFFD for the bad bytes), so
 * it could be neither read here nor copied; say so rather than fail on a missing path.
 */
function notUtf8(relative: string): TbuildError {
  return new TbuildError(
    'TB_UNSUPPORTED',
    `the name of ${JSON.stringify(relative)} is not valid UTF-8`,
    { hint: 'rename it, or leave it out with .dockerignore' },
  );
}

type FileEntry = Entry & { kind: 'file' };

/**
 * Files the walk found without a remembered digest, hashed on the pool while
 * the walk goes on: large ones one task each, small ones in batches (a task
 * per 6 KB file would cost more in messages than the hash).
 */
class PoolHashing {
  readonly #options: ChecksumOptions;
  readonly #pending: Promise<void>[] = [];
  /** Tasks in flight are bounded: memory, and one abort listener per queued task. */
  readonly #limit: number;
  #inFlight = 0;
  #freed: (() => void) | undefined;
  #batch: { absolute: string; stats: EntryStats; entry: FileEntry }[] = [];
  #batchBytes = 0;

  constructor(options: ChecksumOptions) {
    this.#options = options;
    this.#limit = Math.max(2, options.pool.size * 2);
  }

  add(absolute: string, stats: EntryStats, entry: FileEntry): void {
    if (Number(stats.size) > SMALL_FILE_LIMIT) {
      this.#submit(this.#options.pool.run('hashFile', absolute, this.#options.signal), [
        { absolute, stats, entry },
      ]);
      return;
    }
    this.#batch.push({ absolute, stats, entry });
    this.#batchBytes += Number(stats.size);
    if (this.#batch.length >= BATCH_FILES || this.#batchBytes >= BATCH_BYTES) this.#send();
  }

  /** True when the walk should wait for a task to finish before finding more files. */
  full(): boolean {
    return this.#inFlight >= this.#limit;
  }

  room(): Promise<void> {
    return new Promise((resolve) => (this.#freed = resolve));
  }

  /** Waits for every file sent so far, the last partial batch included. */
  async settle(): Promise<void> {
    if (
      this.#pending.length === 0 &&
      this.#batch.length <= INLINE_FILES &&
      this.#batchBytes <= INLINE_BYTES
    ) {
      // A rebuild after editing a file or two: hashing them here is cheaper than a
      // thread round trip, let alone starting a pool thread for them.
      this.#submit(INLINE.run('hashFiles', this.#take(), this.#options.signal), this.#batch);
      this.#batch = [];
    }
    this.#send();
    await Promise.all(this.#pending);
  }

  /** The walk failed: what is still in flight may fail too, and nobody will wait for it. */
  abandon(): void {
    for (const task of this.#pending) task.catch(() => undefined);
  }

  #send(): void {
    const batch = this.#batch;
    if (batch.length === 0) return;
    const paths = this.#take();
    this.#batch = [];
    this.#submit(this.#options.pool.run('hashFiles', paths, this.#options.signal), batch);
  }

  /** The paths of the batch gathered so far; the caller empties the batch. */
  #take(): string[] {
    this.#batchBytes = 0;
    return this.#batch.map((item) => item.absolute);
  }

  #submit(
    task: Promise<string | string[]>,
    files: { absolute: string; stats: EntryStats; entry: FileEntry }[],
  ): void {
    this.#inFlight += 1;
    const done = task.then(
      (result) => {
        const digests = typeof result === 'string' ? [result] : result;
        files.forEach((file, index) => {
          const content = digests[index] ?? '';
          file.entry.content = content;
          this.#options.statCache.set(file.absolute, file.stats, content);
        });
      },
      (error: unknown) => {
        throw error;
      },
    );
    const release = (): void => {
      this.#inFlight -= 1;
      const freed = this.#freed;
      this.#freed = undefined;
      freed?.();
    };
    done.then(release, release);
    this.#pending.push(done);
  }
}

function entryDigest(entry: Entry): Digest {
  switch (entry.kind) {
    case 'dir': {
      const hash = createHash('sha256').update(entry.header).update('\0');
      for (const [name, child] of entry.children)
        hash.update(name).update('\0').update(entryDigest(child)).update('\n');
      return `sha256:${hash.digest('hex')}` as Digest;
    }
    // One-shot hashes: a context has thousands of files, and a Hash object each costs more.
    case 'file':
      return `sha256:${hash('sha256', `${entry.header}\0${entry.content}`, 'hex')}` as Digest;
    case 'link':
      return `sha256:${hash('sha256', `${entry.header}\0${entry.target}`, 'hex')}` as Digest;
    case 'other':
      return `sha256:${hash('sha256', `${entry.header}\0`, 'hex')}` as Digest;
  }
}

/**
 * The entry's header as canonical JSON (keys sorted: gid, mode, rdev, size,
 * type, uid), written out by hand: it is built once per context file.
 */
export function headerJson(stats: EntryStats, includeOwnership: boolean): string {
  const parts: string[] = [];
  if (includeOwnership) parts.push(`"gid":${String(stats.gid)}`);
  parts.push(`"mode":${String(Number(stats.mode) & 0o7777)}`);
  if (stats.isBlockDevice() || stats.isCharacterDevice())
    parts.push(`"rdev":${String(stats.rdev)}`);
  if (stats.isFile()) parts.push(`"size":${String(stats.size)}`);
  parts.push(`"type":"${fileType(stats)}"`);
  if (includeOwnership) parts.push(`"uid":${String(stats.uid)}`);
  return `{${parts.join(',')}}`;
}

function fileType(stats: EntryStats): string {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isCharacterDevice()) return 'char';
  if (stats.isBlockDevice()) return 'block';
  return 'socket';
}

/**
 * A root-relative path, slash-separated, without leading `/` or `./`. Cleaning
 * against `/` first means `..` can never climb above the root, as in BuildKit.
 */
export function cleanRelative(path: string): string {
  return posix.normalize(`/${path}`).slice(1).replace(/\/$/, '');
}
