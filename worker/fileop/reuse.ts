import { closeSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { nativeFs } from '../../runtime/index.js';
import { fromScanned, isFile, type EntryStats } from './entry-stats.js';

/** Files up to this size are compared with the sync API; larger ones in async chunks. */
const SYNC_COMPARE_LIMIT = 4 * 1024 * 1024;
const CHUNK = 256 * 1024;
/**
 * utimes takes seconds as a double, so a copy's mtime lands within a few
 * nanoseconds of the source's milliseconds, not on them: equal within 1 µs.
 */
const MTIME_TOLERANCE_MS = 0.001;

/** What the copied file must look like once written: the copy's ownership, mode and mtime. */
export interface WantedFile {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  readonly mtimeMs: number;
}

/**
 * Hard-links unchanged files from an earlier, committed result of the same
 * copy instead of writing them again. Rebuilding after a one-file edit then
 * creates one new inode rather than thousands: on this kind of disk, inode
 * creation, not data, is what a large COPY costs.
 *
 * A file is linked only when the earlier one is byte-for-byte equal to the
 * source and already has the ownership, mode and mtime the copy would give
 * it, so the layer is the one a plain copy makes. When the earlier file was
 * made by this step from the very source seen now (the recorded identity),
 * that is known without looking; otherwise both are read and compared. Sharing inodes across
 * snapshots is safe because committed snapshots are never written to (an
 * overlay copies a lower file up before changing it); the copy that links
 * must itself write nothing more to the file, which the caller guarantees by
 * linking only into a fresh layer directory.
 */
export class FileReuse {
  readonly #previousRoot: string | undefined;
  readonly #previousSources: ReadonlyMap<string, string>;
  /** Earlier inode → the source inode it stands for, so two unrelated sources never share one. */
  readonly #claimed = new Map<string, string>();
  /** Path in the layer → identity of the source file it was made from, for the next copy. */
  readonly #sources = new Map<string, string>();
  #linked = 0;
  /** The earlier layer's directory scanned last, by its path below the layer root. */
  #scanned: { dir: string; entries: Map<string, EntryStats> } | undefined;

  /**
   * `previousSources` maps the earlier layer's files to the identity their
   * source had when they were made (sourceIdentity): a source with the same
   * identity now has the same bytes (ctime changes with every write, and
   * cannot be set), so its earlier file is linked without reading either.
   * Otherwise both are read and compared.
   */
  constructor(previousRoot?: string, previousSources: ReadonlyMap<string, string> = new Map()) {
    this.#previousRoot = previousRoot;
    this.#previousSources = previousSources;
  }

  /** How many files were linked rather than copied. */
  get linked(): number {
    return this.#linked;
  }

  /** What each file of this copy was made from; saved with the layer for the next copy. */
  get sources(): ReadonlyMap<string, string> {
    return this.#sources;
  }

  /** Records the source of a file the caller copied itself. */
  copied(relative: string, sourceStats: EntryStats): void {
    this.#sources.set(relative, sourceIdentity(sourceStats));
  }

  /**
   * The earlier file to hard-link at `relative` below the layer root instead
   * of copying `source`, when it is equal; undefined means copy. The caller
   * makes the link, and reports `linkFailed` if it could not.
   */
  async earlierEqual(
    source: string,
    sourceStats: EntryStats,
    relative: string,
    wanted: WantedFile,
  ): Promise<string | undefined> {
    if (this.#previousRoot === undefined) return undefined;
    const previous = `${this.#previousRoot}/${relative}`;
    const identity = sourceIdentity(sourceStats);
    if (this.#previousSources.get(relative) === identity) {
      // Made by this same step (same flags) from this very source: the same identity
      // means the same bytes, mode, owner and mtime now as then, so the earlier file is
      // what a copy would make, and it is linked without even listing its directory.
      // A change to the source's hard links changes its ctime, so the earlier inode
      // cannot be standing for another source here either.
      this.#sources.set(relative, identity);
      this.#linked += 1;
      return previous;
    }
    const earlier = this.#earlierEntry(this.#previousRoot, relative);
    if (earlier === undefined || !isFile(earlier)) return undefined;
    if (
      earlier.size !== sourceStats.size ||
      earlier.uid !== wanted.uid ||
      earlier.gid !== wanted.gid ||
      (earlier.mode & 0o7777) !== wanted.mode ||
      Math.abs(earlier.mtimeMs - wanted.mtimeMs) >= MTIME_TOLERANCE_MS
    ) {
      return undefined;
    }
    const earlierInode = `${earlier.dev}:${earlier.ino}`;
    const sourceInode = `${sourceStats.dev}:${sourceStats.ino}`;
    const claimedBy = this.#claimed.get(earlierInode);
    if (claimedBy !== undefined && claimedBy !== sourceInode) return undefined;
    try {
      const equal =
        sourceStats.size <= SYNC_COMPARE_LIMIT
          ? sameBytesSync(source, previous, sourceStats.size)
          : await sameBytes(source, previous);
      if (!equal) return undefined;
    } catch {
      // Gone meanwhile (pruned), unreadable: the caller copies instead.
      return undefined;
    }
    this.#claimed.set(earlierInode, sourceInode);
    this.#sources.set(relative, identity);
    this.#linked += 1;
    return previous;
  }

  /**
   * The earlier layer's entry at `relative`, from one scan of its directory:
   * a copy asks for a directory's files one after another.
   */
  #earlierEntry(root: string, relative: string): EntryStats | undefined {
    const slash = relative.lastIndexOf('/');
    const dir = slash < 0 ? '' : relative.slice(0, slash);
    if (this.#scanned?.dir !== dir) {
      const entries = new Map<string, EntryStats>();
      try {
        for (const entry of nativeFs
          .scanDirectory(dir === '' ? root : `${root}/${dir}`)
          .entries()) {
          entries.set(entry.name, fromScanned(entry));
        }
      } catch {
        // No such directory in the earlier layer (or not one): nothing there to link.
      }
      this.#scanned = { dir, entries };
    }
    return this.#scanned.entries.get(slash < 0 ? relative : relative.slice(slash + 1));
  }

  /** The link to a file `earlierEqual` offered could not be made (gone, too many links); it was copied. */
  linkFailed(): void {
    this.#linked -= 1;
  }
}

/** A source file's identity, as the context stat cache keys it: same identity, same bytes. */
export function sourceIdentity(stats: EntryStats): string {
  return `${stats.dev}:${stats.ino}:${String(stats.size)}:${String(stats.mtimeMs)}:${String(stats.ctimeMs)}`;
}

function sameBytesSync(a: string, b: string, size: number): boolean {
  const left = readWhole(a, size);
  const right = readWhole(b, size);
  return left !== undefined && right !== undefined && left.equals(right);
}

/** The file's bytes, or undefined when it is not `size` long any more. */
function readWhole(path: string, size: number): Buffer | undefined {
  const fd = openSync(path, 'r');
  try {
    // One byte more than expected, to notice a file that grew since its lstat.
    const buffer = Buffer.allocUnsafe(size + 1);
    let filled = 0;
    for (;;) {
      const read = readSync(fd, buffer, filled, buffer.length - filled, null);
      if (read === 0) break;
      filled += read;
      if (filled > size) return undefined;
    }
    return filled === size ? buffer.subarray(0, size) : undefined;
  } finally {
    closeSync(fd);
  }
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const left = await open(a, 'r');
  try {
    const right = await open(b, 'r');
    try {
      const leftChunk = Buffer.allocUnsafe(CHUNK);
      const rightChunk = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const [l, r] = await Promise.all([fill(left, leftChunk), fill(right, rightChunk)]);
        if (l !== r) return false;
        if (l === 0) return true;
        if (!leftChunk.subarray(0, l).equals(rightChunk.subarray(0, r))) return false;
      }
    } finally {
      await right.close();
    }
  } finally {
    await left.close();
  }
}

/** Reads until `buffer` is full or the file ends; returns the bytes read. */
async function fill(file: FileHandle, buffer: Buffer): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await file.read(buffer, filled, buffer.length - filled, null);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
