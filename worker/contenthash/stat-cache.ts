import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
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

/**
 * Remembers the content digest of files by (dev, ino, size, mtime, ctime), so an
 * unchanged context file is never read twice, across runs. ctime is part of the
 * identity because a tool can restore an mtime after changing the content
 * (BuildKit's stale-COPY bugs, moby/buildkit#4817 and #5680), and ctime cannot be
 * set from user space. Never trusted from mtime alone.
 */
export class StatCache {
  readonly #file: string | undefined;
  /** path → [identity of the stat it was hashed at, digest]; one entry per path. */
  readonly #entries = new Map<string, readonly [string, string]>();
  #dirty = false;

  private constructor(file: string | undefined) {
    this.#file = file;
  }

  /** A cache persisted in `file` (loaded now, written by save()); a damaged file starts empty. */
  static async open(file: string): Promise<StatCache> {
    const cache = new StatCache(file);
    try {
      const data = JSON.parse(await readFile(file, 'utf8')) as unknown;
      if (isEntries(data)) {
        for (const [path, key, digest] of data.entries) cache.#entries.set(path, [key, digest]);
      }
    } catch {
      // Missing or torn: content is simply hashed again.
    }
    return cache;
  }

  static inMemory(): StatCache {
    return new StatCache(undefined);
  }

  get(path: string, stats: IdentityStats): string | undefined {
    const entry = this.#entries.get(path);
    return entry !== undefined && entry[0] === identity(stats) ? entry[1] : undefined;
  }

  set(path: string, stats: IdentityStats, digest: string): void {
    this.#entries.set(path, [identity(stats), digest]);
    this.#dirty = true;
  }

  /** Writes the cache atomically (temp + rename), so a crash leaves the old or the new file. */
  async save(): Promise<void> {
    if (this.#file === undefined || !this.#dirty) return;
    await mkdir(dirname(this.#file), { recursive: true });
    const temp = `${this.#file}.${String(process.pid)}.${String(Date.now())}.tmp`;
    const entries = [...this.#entries].map(([path, [key, digest]]) => [path, key, digest]);
    await writeFile(temp, JSON.stringify({ version: 1, entries }));
    await rename(temp, this.#file);
    this.#dirty = false;
  }
}

/**
 * What a remembered digest is checked against. Persisted: the same stat must give the
 * same string whichever API read it, or every file is hashed again after an upgrade.
 */
export function identity(stats: IdentityStats): string {
  return `${String(stats.dev)}:${String(stats.ino)}:${String(stats.size)}:${String(stats.mtimeNs)}:${String(stats.ctimeNs)}`;
}

function isEntries(value: unknown): value is { entries: [string, string, string][] } {
  if (typeof value !== 'object' || value === null) return false;
  const { version, entries } = value as { version?: unknown; entries?: unknown };
  return (
    version === 1 &&
    Array.isArray(entries) &&
    entries.every(
      (entry) =>
        Array.isArray(entry) &&
        entry.length === 3 &&
        entry.every((part) => typeof part === 'string'),
    )
  );
}
