import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BigIntStats } from 'node:fs';
import type { ScannedEntry } from '../../runtime/index.js';

/**
 * An lstat from node:fs (BigIntStats) or from nativeFs.scanDirectory: both print
 * dev, ino, size and the *timeNs fields as the same decimal strings.
 */
export type IdentityStats = Pick<
  BigIntStats | ScannedEntry,
  'dev' | 'ino' | 'size' | 'mtimeNs' | 'ctimeNs'
>;

/** What a directory's checksum was made from (see checksumPath), and the checksum. */
export interface DirectoryRecord {
  /** The walk's settings (root, ownership, excludes): a walk with others never uses the record. */
  readonly settings: string;
  /** ScannedDirectory.fingerprint() of the directory's listing. */
  readonly fingerprint: string;
  /** The directory's own header (headerJson). */
  readonly header: string;
  readonly digest: string;
  /** The subdirectories the checksum included, sorted by name, with their checksums then. */
  readonly subdirs: readonly (readonly [string, string])[];
}

const FILES = 'files.json';
const DIRECTORIES = 'directories.json';

/**
 * Remembers the content digest of files by (dev, ino, size, mtime, ctime), so an
 * unchanged context file is never read twice, across runs. ctime is part of the
 * identity because a tool can restore an mtime after changing the content
 * (BuildKit's stale-COPY bugs, moby/buildkit#4817 and #5680), and ctime cannot be
 * set from user space. Never trusted from mtime alone.
 *
 * It also remembers directory checksums by their listing's fingerprint (the
 * same identity, for every entry at once), so a rebuild of an unchanged tree
 * never looks at its files one by one. The file digests are kept apart and
 * read only when some directory changed: a rebuild that changed nothing reads
 * the small directory part alone.
 */
export class StatCache {
  readonly #dir: string | undefined;
  /** path → [identity of the stat it was hashed at, digest]; read on first use. */
  #files: Map<string, readonly [string, string]> | undefined;
  readonly #directories = new Map<string, DirectoryRecord>();
  #filesDirty = false;
  #directoriesDirty = false;

  private constructor(dir: string | undefined) {
    this.#dir = dir;
    if (dir === undefined) this.#files = new Map();
  }

  /**
   * A cache persisted in the directory `dir` (directory records read now, file
   * digests on first use, both written by save()); a damaged file starts empty.
   */
  static async open(dir: string): Promise<StatCache> {
    const cache = new StatCache(dir);
    const data = await readFile(join(dir, DIRECTORIES), 'utf8').then(parseJson, () => undefined);
    if (isDirectories(data)) {
      for (const [path, record] of data.directories) cache.#directories.set(path, record);
    }
    return cache;
  }

  static inMemory(): StatCache {
    return new StatCache(undefined);
  }

  get(path: string, stats: IdentityStats): string | undefined {
    const entry = this.#loadedFiles().get(path);
    return entry !== undefined && entry[0] === identity(stats) ? entry[1] : undefined;
  }

  set(path: string, stats: IdentityStats, digest: string): void {
    this.#loadedFiles().set(path, [identity(stats), digest]);
    this.#filesDirty = true;
  }

  /** The record of the directory at `path` made under `settings`, if there is one. */
  directory(path: string, settings: string): DirectoryRecord | undefined {
    const record = this.#directories.get(path);
    return record?.settings === settings ? record : undefined;
  }

  setDirectory(path: string, record: DirectoryRecord): void {
    this.#directories.set(path, record);
    this.#directoriesDirty = true;
  }

  /** Writes what changed, each file atomically (temp + rename): a crash leaves the old or the new one. */
  async save(): Promise<void> {
    if (this.#dir === undefined) return;
    if (this.#filesDirty && this.#files !== undefined) {
      const entries = [...this.#files].map(([path, [key, digest]]) => [path, key, digest]);
      await writeAtomic(join(this.#dir, FILES), { version: 1, entries });
      this.#filesDirty = false;
      // The one-file format before directory records, superseded by this one.
      await rm(join(this.#dir, 'stat-cache.json'), { force: true });
    }
    if (this.#directoriesDirty) {
      await writeAtomic(join(this.#dir, DIRECTORIES), {
        version: 1,
        directories: [...this.#directories],
      });
      this.#directoriesDirty = false;
    }
  }

  #loadedFiles(): Map<string, readonly [string, string]> {
    if (this.#files !== undefined) return this.#files;
    const files = new Map<string, readonly [string, string]>();
    let data: unknown;
    try {
      data = parseJson(readFileSync(join(this.#dir ?? '', FILES), 'utf8'));
    } catch {
      // Missing: content is simply hashed again.
    }
    if (isEntries(data)) {
      for (const [path, key, digest] of data.entries) files.set(path, [key, digest]);
    }
    this.#files = files;
    return files;
  }
}

/**
 * What a remembered digest is checked against. Persisted: the same stat must give the
 * same string whichever API read it, or every file is hashed again after an upgrade.
 */
export function identity(stats: IdentityStats): string {
  return `${String(stats.dev)}:${String(stats.ino)}:${String(stats.size)}:${String(stats.mtimeNs)}:${String(stats.ctimeNs)}`;
}

async function writeAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${String(process.pid)}.${String(Date.now())}.tmp`;
  try {
    await writeFile(temp, JSON.stringify(value));
    await rename(temp, file);
  } catch (error) {
    // A full disk leaves the old file and no temp.
    await rm(temp, { force: true });
    throw error;
  }
}

/** A torn file is no cache rather than an error. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const isStrings = (value: unknown, length: number): boolean =>
  Array.isArray(value) &&
  value.length === length &&
  value.every((part) => typeof part === 'string');

function isEntries(value: unknown): value is { entries: [string, string, string][] } {
  if (typeof value !== 'object' || value === null) return false;
  const { version, entries } = value as { version?: unknown; entries?: unknown };
  return version === 1 && Array.isArray(entries) && entries.every((entry) => isStrings(entry, 3));
}

function isDirectories(value: unknown): value is { directories: [string, DirectoryRecord][] } {
  if (typeof value !== 'object' || value === null) return false;
  const { version, directories } = value as { version?: unknown; directories?: unknown };
  return (
    version === 1 &&
    Array.isArray(directories) &&
    directories.every(
      (item) =>
        Array.isArray(item) &&
        item.length === 2 &&
        typeof item[0] === 'string' &&
        isRecord(item[1]),
    )
  );
}

function isRecord(value: unknown): value is DirectoryRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<Record<keyof DirectoryRecord, unknown>>;
  return (
    typeof record.settings === 'string' &&
    typeof record.fingerprint === 'string' &&
    typeof record.header === 'string' &&
    typeof record.digest === 'string' &&
    Array.isArray(record.subdirs) &&
    record.subdirs.every((subdir) => isStrings(subdir, 2))
  );
}
