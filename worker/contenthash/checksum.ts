import { createHash, hash } from 'node:crypto';
import { lstatSync, readlinkSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { join, posix } from 'node:path';
import { TbuildError, throwIfAborted, type Digest } from '../../core/index.js';
import { nativeFs, type ScannedDirectory, type ScannedEntry } from '../../runtime/index.js';
import { hashFile, InlinePool, TimeSlicer, type ThreadPool } from '../threads/index.js';
import type { DirectoryRecord, StatCache } from './stat-cache.js';

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
  /**
   * Whether an excluded directory may still hold paths `excludes` keeps (a later
   * `!` exception): such a directory is walked, and counts only for what is
   * kept inside it, as BuildKit's context sender (fsutil) sends it.
   */
  readonly mayKeepInside?: (dir: string) => boolean;
  /**
   * Names what `excludes` leaves out (e.g. the .dockerignore patterns), so directory
   * checksums remembered under the same excludes are used again. A walk with
   * excludes and no key remembers files only.
   */
  readonly excludesKey?: string;
  /** Told every directory listing the walk made (the copy that follows may use them). */
  readonly onListed?: (path: string, listing: ScannedDirectory) => void;
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
 *
 * A directory whose listing has the fingerprint it had when its checksum was
 * remembered (StatCache directory records) has none of its files visited:
 * only its subdirectories are walked, and when their checksums are unchanged
 * too, so is its own. A rebuild that changed nothing lists each directory once
 * and looks at no file.
 */
export async function checksumPath(path: string, options: ChecksumOptions): Promise<Digest> {
  throwIfAborted(options.signal);
  const hashing = new PoolHashing(options);
  try {
    const root = await walkTree(cleanRelative(path), options, hashing);
    await hashing.settle();
    return entryDigest(root, options);
  } catch (error) {
    hashing.abandon();
    throw error;
  }
}

/**
 * The checksums of a directory's children, by name, sorted (as its own
 * checksum is made of them), and whether each is a directory; undefined when
 * `path` is not a directory. A walk like checksumPath's, with its remembered
 * checksums: used to tell which context files a step's key changed by.
 */
export async function checksumChildren(
  path: string,
  options: ChecksumOptions,
): Promise<{ name: string; digest: Digest; dir: boolean }[] | undefined> {
  throwIfAborted(options.signal);
  const hashing = new PoolHashing(options);
  try {
    const root = await walkTree(cleanRelative(path), options, hashing);
    await hashing.settle();
    if (root.kind !== 'dir') return undefined;
    const subdirs = new Set(
      root.children.filter(([, child]) => child.kind === 'dir').map(([name]) => name),
    );
    const walked = root.children.map(([name, child]): [string, Digest] => [
      name,
      entryDigest(child, options),
    ]);
    // A directory passed over (listing unchanged) has only its subdirectories walked.
    const all =
      root.tracked?.reused === undefined ? walked : withFiles(root.tracked, walked, options);
    return all
      .filter(([, digest]) => digest !== NOTHING_KEPT)
      .map(([name, digest]) => ({ name, digest, dir: subdirs.has(name) }));
  } catch (error) {
    hashing.abandon();
    throw error;
  }
}

/** One entry of the walked tree; a file's digest arrives later when the pool hashes it. */
type Entry =
  | DirEntry
  | { readonly kind: 'file'; readonly header: string; content: string }
  | { readonly kind: 'link'; readonly header: string; readonly target: string }
  | { readonly kind: 'other'; readonly header: string };

interface DirEntry {
  readonly kind: 'dir';
  readonly header: string;
  /** Excluded, walked for what an exception keeps: without it, the directory is not there. */
  excluded?: boolean;
  /** Sorted by name; only the subdirectories when `tracked.reused` is set. */
  children: [string, Entry][];
  /** Where the directory is and what its listing was, when its checksum is remembered. */
  tracked?: TrackedDirectory;
}

interface TrackedDirectory {
  readonly absolute: string;
  readonly relative: string;
  readonly settings: string;
  readonly scan: ScannedDirectory;
  readonly fingerprint: string;
  /** The record the listing matched: the directory's files were not visited. */
  readonly reused: DirectoryRecord | undefined;
}

async function walkTree(
  relative: string,
  options: ChecksumOptions,
  hashing: PoolHashing,
): Promise<Entry> {
  const slicer = new TimeSlicer(options.signal);
  // The root is one path, not a listing: plain lstat.
  const rootAbsolute = join(options.root, relative);
  const root = visit(rootAbsolute, lstatSync(rootAbsolute, { bigint: true }), options, hashing);
  const directories: [string, string, DirEntry][] =
    root.kind === 'dir' ? [[relative, rootAbsolute, root]] : [];
  const settings = directorySettings(options);
  for (let next = directories.pop(); next !== undefined; next = directories.pop()) {
    const [dirRelative, dirAbsolute, dir] = next;
    // join() would normalize each child path again (~0.5 µs); a readdir name is one
    // plain component, so appending it keeps the directory's normalized path normal.
    const prefix = dirAbsolute.endsWith('/') ? dirAbsolute : `${dirAbsolute}/`;
    // Also between directories: an unchanged tree is walked a directory at a time.
    if (slicer.due()) await slicer.pause();
    const scan = nativeFs.scanDirectory(dirAbsolute);
    options.onListed?.(dirAbsolute, scan);
    if (settings !== undefined) {
      const fingerprint = scan.fingerprint();
      const record = options.statCache.directory(dirAbsolute, settings);
      const reused =
        record?.fingerprint === fingerprint && record.header === dir.header
          ? recordedSubdirectories(scan, record)
          : undefined;
      dir.tracked = {
        absolute: dirAbsolute,
        relative: dirRelative,
        settings,
        scan,
        fingerprint,
        reused: reused === undefined ? undefined : record,
      };
      if (reused !== undefined) {
        // Nothing in it changed: of its entries, only the subdirectories are walked.
        for (const stats of reused) {
          const child = dirRelative === '' ? stats.name : `${dirRelative}/${stats.name}`;
          const entry = visit(prefix + stats.name, stats, options, hashing) as DirEntry;
          if (options.excludes?.(child) === true) entry.excluded = true;
          dir.children.push([stats.name, entry]);
          directories.push([child, prefix + stats.name, entry]);
        }
        continue;
      }
    }
    for (const stats of scan.sortedEntries()) {
      if (slicer.due()) await slicer.pause();
      if (hashing.full()) await hashing.room();
      const name = stats.name;
      const child = dirRelative === '' ? name : `${dirRelative}/${name}`;
      const excluded = options.excludes?.(child) === true;
      if (excluded && !(stats.isDirectory() && options.mayKeepInside?.(child) === true)) continue;
      if (!stats.nameIsUtf8) throw notUtf8(child);
      const absolute = prefix + name;
      const entry = visit(absolute, stats, options, hashing);
      if (excluded && entry.kind === 'dir') entry.excluded = true;
      dir.children.push([name, entry]);
      if (entry.kind === 'dir') directories.push([child, absolute, entry]);
    }
  }
  return root;
}

/**
 * Remembered directory checksums are used under the same root, ownership rule and
 * excludes only; undefined when the excludes have no key (nothing can be reused).
 */
function directorySettings(options: ChecksumOptions): string | undefined {
  if (options.excludes !== undefined && options.excludesKey === undefined) return undefined;
  const excludes = options.excludes === undefined ? null : (options.excludesKey ?? null);
  return JSON.stringify([options.root, options.includeOwnership, excludes]);
}

/**
 * The scanned entries of the subdirectories `record` lists, in its order; undefined
 * when one is not there as a directory (the same fingerprint rules that out).
 */
function recordedSubdirectories(
  scan: ScannedDirectory,
  record: DirectoryRecord,
): ScannedEntry[] | undefined {
  if (record.subdirs.length === 0) return [];
  const indexes = new Map(scan.names.map((name, index) => [name, index]));
  const found: ScannedEntry[] = [];
  for (const [name] of record.subdirs) {
    const index = indexes.get(name);
    const stats = index === undefined ? undefined : scan.entry(index);
    if (stats?.isDirectory() !== true) return undefined;
    found.push(stats);
  }
  return found;
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
  hashing: FileHashing,
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

/** Where visit() sends a file it has no remembered digest for; `entry.content` is set later or at once. */
interface FileHashing {
  add(absolute: string, stats: EntryStats, entry: FileEntry): void;
}

/**
 * Files the walk found without a remembered digest, hashed on the pool while
 * the walk goes on: large ones one task each, small ones in batches (a task
 * per 6 KB file would cost more in messages than the hash).
 */
class PoolHashing implements FileHashing {
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

/**
 * The checksum of an excluded directory that keeps nothing: it is left out of
 * its parent's checksum, yet remembered among the parent's subdirectories so
 * a later walk looks into it again.
 */
const NOTHING_KEPT = '' as Digest;

function entryDigest(entry: Entry, options: ChecksumOptions): Digest {
  switch (entry.kind) {
    case 'dir':
      return directoryDigest(entry, options);
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
 * A directory's checksum: its header, then each child's name and checksum. A
 * directory whose listing matched its record keeps the recorded checksum when
 * its subdirectories' are unchanged too; when one changed, its files (all
 * remembered, or hashed here in the rare case they were forgotten) count again.
 * Tracked directories leave a record for the next walk.
 */
function directoryDigest(dir: DirEntry, options: ChecksumOptions): Digest {
  const tracked = dir.tracked;
  const children = dir.children.map(([name, child]): [string, Digest] => [
    name,
    entryDigest(child, options),
  ]);
  const reused = tracked?.reused;
  if (reused !== undefined && sameSubdirectories(children, reused.subdirs)) {
    return reused.digest as Digest;
  }
  const all =
    tracked !== undefined && reused !== undefined
      ? withFiles(tracked, children, options)
      : children;
  const kept = all.filter(([, child]) => child !== NOTHING_KEPT);
  const hash = createHash('sha256').update(dir.header).update('\0');
  for (const [name, digest] of kept) hash.update(name).update('\0').update(digest).update('\n');
  const digest =
    dir.excluded === true && kept.length === 0
      ? NOTHING_KEPT
      : (`sha256:${hash.digest('hex')}` as Digest);
  if (tracked !== undefined) {
    const subdirs = new Set(
      dir.children.filter(([, child]) => child.kind === 'dir').map(([name]) => name),
    );
    options.statCache.setDirectory(tracked.absolute, {
      settings: tracked.settings,
      fingerprint: tracked.fingerprint,
      header: dir.header,
      digest,
      subdirs: all.filter(([name]) => subdirs.has(name)),
    });
  }
  return digest;
}

function sameSubdirectories(
  children: readonly (readonly [string, string])[],
  recorded: readonly (readonly [string, string])[],
): boolean {
  return (
    children.length === recorded.length &&
    children.every(([name, digest], index) => {
      const [recordedName, recordedDigest] = recorded[index] ?? [];
      return name === recordedName && digest === recordedDigest;
    })
  );
}

/**
 * Every child of a directory the walk passed over (its listing was unchanged),
 * sorted: its subdirectories' fresh checksums, and its other entries visited
 * again from the scan, files from the stat cache.
 */
function withFiles(
  tracked: TrackedDirectory,
  subdirectories: readonly [string, Digest][],
  options: ChecksumOptions,
): [string, Digest][] {
  const fresh = new Map(subdirectories);
  const prefix = tracked.absolute.endsWith('/') ? tracked.absolute : `${tracked.absolute}/`;
  // The files' digests are remembered (the listing is the one they were made from);
  // one forgotten since is hashed here and now.
  const now: FileHashing = {
    add(absolute, stats, entry) {
      entry.content = hashFile(absolute);
      options.statCache.set(absolute, stats, entry.content);
    },
  };
  const all: [string, Digest][] = [];
  for (const stats of tracked.scan.sortedEntries()) {
    const name = stats.name;
    const child = tracked.relative === '' ? name : `${tracked.relative}/${name}`;
    // Before the excludes: an excluded subdirectory the walk looked into is one of them.
    const subdirectory = fresh.get(name);
    if (subdirectory !== undefined) {
      all.push([name, subdirectory]);
      continue;
    }
    if (options.excludes?.(child) === true) continue;
    if (!stats.nameIsUtf8) throw notUtf8(child);
    all.push([name, entryDigest(visit(prefix + name, stats, options, now), options)]);
  }
  return all;
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
