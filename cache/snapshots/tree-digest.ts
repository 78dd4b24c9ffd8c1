import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { throwIfAborted } from '../../core/index.js';

/** How long the walk may hold the event loop before it yields (see summarizeTree). */
const SLICE_MS = 8;

/**
 * What a committed snapshot records about its directory, so a later check can
 * tell it is still the directory that was committed: the number of entries,
 * the bytes of regular files, and a digest over each entry's path, type,
 * mode, owner, size, link target and device number (in sorted order). With
 * `content`, file bytes are hashed too (slower, catches bit flips in files).
 * Not covered: xattrs (overlay opaque markers), which Node cannot read.
 */
export interface TreeSummary {
  readonly entries: number;
  readonly bytes: number;
  readonly digest: string;
  readonly content: boolean;
}

function entryType(mode: number): string {
  switch (mode & 0o170000) {
    case 0o040000:
      return 'd';
    case 0o100000:
      return 'f';
    case 0o120000:
      return 'l';
    case 0o020000:
      return 'c';
    case 0o060000:
      return 'b';
    case 0o010000:
      return 'p';
    case 0o140000:
      return 's';
    default:
      return '?';
  }
}

/** The fields of an entry's lstat a summary covers. */
export interface ListedEntry {
  readonly name: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly rdev: number;
}

/**
 * Lists a directory with each entry's lstat. The runtime's native scanDirectory
 * is handed in by the engine (one call per directory, no Stats object per
 * entry; cache imports only core); node:fs is the default.
 */
export type DirectoryLister = (path: string) => readonly ListedEntry[];

export const listWithNodeFs: DirectoryLister = (path) =>
  readdirSync(path).map((name) => {
    const { mode, uid, gid, size, rdev } = lstatSync(join(path, name));
    return { name, mode, uid, gid, size, rdev };
  });

async function fileDigest(path: string, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The walk calls the sync fs API and yields to the event loop every few
 * milliseconds: a commit of a 20k-file layer is 20k lstats, and an async call
 * each cost several times the call (a thread-pool round trip per file).
 */
export async function summarizeTree(
  dir: string,
  options: {
    readonly content: boolean;
    readonly signal: AbortSignal;
    readonly list?: DirectoryLister;
  },
): Promise<TreeSummary> {
  const list = options.list ?? listWithNodeFs;
  const hash = createHash('sha256');
  let entries = 0;
  let bytes = 0;
  let sliceStart = performance.now();
  const walk = async (relative: string): Promise<void> => {
    throwIfAborted(options.signal);
    const listed = [...list(join(dir, relative))].sort(byName);
    // A directory's lines go to the hash together, each subdirectory's before it is
    // walked: the same bytes in the same order as a line at a time, in fewer calls.
    let lines: string[] = [];
    for (const stats of listed) {
      const name = stats.name;
      if (performance.now() - sliceStart >= SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        throwIfAborted(options.signal);
        sliceStart = performance.now();
      }
      const rel = relative === '' ? name : `${relative}/${name}`;
      const type = entryType(stats.mode);
      entries += 1;
      let extra = '';
      if (type === 'f') {
        bytes += stats.size;
        if (options.content) extra = await fileDigest(join(dir, rel), options.signal);
      } else if (type === 'l') {
        extra = readlinkSync(join(dir, rel));
      } else if (type === 'c' || type === 'b') {
        extra = String(stats.rdev);
      }
      const size = type === 'f' ? stats.size : 0;
      lines.push(
        `${rel}\0${type}\0${(stats.mode & 0o7777).toString(8)}\0${String(stats.uid)}\0${String(stats.gid)}\0${String(size)}\0${extra}\n`,
      );
      if (type === 'd') {
        hash.update(lines.join(''));
        lines = [];
        await walk(rel);
      }
    }
    hash.update(lines.join(''));
  };
  await walk('');
  return { entries, bytes, digest: hash.digest('hex'), content: options.content };
}

/** The order of `names.sort()`: UTF-16 code units. */
function byName(a: ListedEntry, b: ListedEntry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
