import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { join, posix } from 'node:path';
import { canonicalJson, throwIfAborted, type Digest } from '../../core/index.js';
import { TimeSlicer, type ThreadPool } from '../threads/index.js';
import type { StatCache } from './stat-cache.js';

/** Files up to this size are hashed on the calling thread: a thread task costs more than the hash. */
const INLINE_HASH_LIMIT = 64 * 1024;

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
 * The walk uses the sync fs API in time slices (see TimeSlicer): a context of
 * 20k small files is mostly metadata, where a thread-pool round trip per call
 * costs several times the syscall. Only large files go to the thread pool,
 * all at once (piscina queues them), so no more files are open than threads.
 */
export async function checksumPath(path: string, options: ChecksumOptions): Promise<Digest> {
  throwIfAborted(options.signal);
  return checksumEntry(cleanRelative(path), options, new TimeSlicer(options.signal));
}

async function checksumEntry(
  relative: string,
  options: ChecksumOptions,
  slicer: TimeSlicer,
): Promise<Digest> {
  if (slicer.due()) await slicer.pause();
  const absolute = join(options.root, relative);
  const stats = lstatSync(absolute, { bigint: true });
  const header = canonicalJson(headerOf(stats, options.includeOwnership));
  const hash = createHash('sha256').update(header).update('\0');
  if (stats.isDirectory()) {
    const names = readdirSync(absolute).sort();
    const children = names
      .map((name) => (relative === '' ? name : `${relative}/${name}`))
      .filter((child) => options.excludes?.(child) !== true);
    // Each child runs synchronously until it parks on a slice pause or a pool task.
    const digests = await Promise.all(
      children.map((child) => checksumEntry(child, options, slicer)),
    );
    children.forEach((child, index) => {
      hash
        .update(posix.basename(child))
        .update('\0')
        .update(digests[index] ?? '')
        .update('\n');
    });
  } else if (stats.isSymbolicLink()) {
    hash.update(readlinkSync(absolute));
  } else if (stats.isFile()) {
    hash.update(await contentDigest(absolute, stats, options));
  }
  return `sha256:${hash.digest('hex')}` as Digest;
}

async function contentDigest(
  absolute: string,
  stats: BigIntStats,
  options: ChecksumOptions,
): Promise<string> {
  const known = options.statCache.get(absolute, stats);
  if (known !== undefined) return known;
  const digest =
    stats.size <= BigInt(INLINE_HASH_LIMIT)
      ? createHash('sha256').update(readFileSync(absolute)).digest('hex')
      : await options.pool.run('hashFile', absolute, options.signal);
  options.statCache.set(absolute, stats, digest);
  return digest;
}

function headerOf(stats: BigIntStats, includeOwnership: boolean): Record<string, unknown> {
  return {
    type: fileType(stats),
    mode: Number(stats.mode & 0o7777n),
    ...(includeOwnership ? { uid: Number(stats.uid), gid: Number(stats.gid) } : {}),
    ...(stats.isFile() ? { size: Number(stats.size) } : {}),
    ...(stats.isBlockDevice() || stats.isCharacterDevice() ? { rdev: Number(stats.rdev) } : {}),
  };
}

function fileType(stats: BigIntStats): string {
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
