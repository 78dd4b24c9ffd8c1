import {
  chmodSync,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  type Stats,
} from 'node:fs';
import { chmod, copyFile, lchown, lstat, mkdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { TbuildError, throwIfAborted } from '../../core/index.js';
import { nativeFs, type ScannedDirectory } from '../../runtime/index.js';
import type { CopyAction } from '../../solver/index.js';
import { TimeSlicer } from '../threads/index.js';
import { applyModeSpec, parseModeSpec, type ModeSpec } from './chmod.js';
import { exists } from './exists.js';
import { resolveInRoot } from './in-root.js';
import type { ResolvedOwner } from './owners.js';
import { expandWildcard, hasWildcard } from './wildcard.js';
import { unpackIfArchive } from './unpack-copy.js';
import type { FileReuse } from './reuse.js';
import { BatchWriter, type CopiedFile } from './batch-writer.js';
import {
  fromNodeStats,
  fromScanned,
  isDirectory,
  isFile,
  isSymbolicLink,
  wholeMs,
  type EntryStats,
} from './entry-stats.js';

export interface CopyContext {
  /** Host directory of the copy's source (a context, or a mounted snapshot). */
  readonly sourceRoot: string;
  /** Host directory of the destination filesystem (the merged view being changed). */
  readonly destRoot: string;
  /** The resolved `--chown`, if any; otherwise source ownership is kept. */
  readonly owner?: ResolvedOwner;
  /** Paths relative to `sourceRoot` that are left out (the context's .dockerignore). */
  readonly excludes?: (path: string) => boolean;
  /** Paths relative to each copied source that are left out (`COPY --exclude`). */
  readonly sourceExcludes?: (path: string) => boolean;
  /** Earlier equal files to hard-link instead of copying (only when `destRoot` is a fresh layer directory). */
  readonly reuse?: FileReuse;
  /**
   * A listing of a source directory made earlier in the build (the checksum of
   * the copy's sources), used instead of listing it again when there is one.
   */
  readonly listings?: (path: string) => ScannedDirectory | undefined;
  readonly signal?: AbortSignal;
}

/**
 * COPY and ADD semantics as Docker documents them: a directory's contents are
 * copied (not the directory), wildcards expand in the source, a destination
 * ending in `/` (or several sources, or an existing directory) is a directory,
 * parents of the destination are created, mtimes are kept, ownership is root's
 * or `--chown`'s, modes are the source's or `--chmod`'s.
 */
export async function applyCopy(action: CopyAction, context: CopyContext): Promise<void> {
  const sources = await matchSources(action, context.sourceRoot, context.excludes);
  const mode = action.mode === undefined ? undefined : parseModeSpec(action.mode);
  const destEndsWithSlash = action.dest.endsWith('/');
  const destHost = await resolveInRoot(context.destRoot, action.dest, true);
  const destStats = await lstat(destHost).catch(() => undefined);
  const destIsDirectory =
    destEndsWithSlash || sources.length > 1 || destStats?.isDirectory() === true;
  const copier = new TreeCopier(context, mode);
  try {
    for (const source of sources) {
      // What earlier sources queued lands first: a later one may overwrite it, or unpack into it.
      await copier.finish();
      await copySource(action, source, { destHost, destIsDirectory, copier, context });
    }
    await copier.finish();
  } catch (error) {
    await copier.abandon();
    throw error;
  }
}

async function copySource(
  action: CopyAction,
  source: MatchedSource,
  into: {
    destHost: string;
    destIsDirectory: boolean;
    copier: TreeCopier;
    context: CopyContext;
  },
): Promise<void> {
  const { destHost, destIsDirectory, copier, context } = into;
  throwIfAborted(context.signal);
  const { host, stats, relative } = source;
  if (await unpackIfArchive(action, source, destHost, context)) return;
  const keptParents = action.parents ? parentsBelowPivot(relative) : '';
  const base = keptParents === '' ? destHost : `${destHost}/${keptParents}`;
  let target: string;
  if (stats.isDirectory() && action.dirContents) target = base;
  else if (destIsDirectory || keptParents !== '') target = `${base}/${posix.basename(relative)}`;
  else target = destHost;
  if (action.createDestPath || destIsDirectory)
    await copier.makeParents(posix.dirname(target), context.destRoot);
  await copier.copy(host, target, fromNodeStats(stats), {
    root: relative === '.' ? '' : relative,
    source: '',
  });
}

interface MatchedSource {
  readonly relative: string;
  readonly host: string;
  readonly stats: Stats;
}

async function matchSources(
  action: CopyAction,
  root: string,
  excludes: ((path: string) => boolean) | undefined,
): Promise<MatchedSource[]> {
  const pattern = action.src.replace(/^\/+/, '');
  const wildcard = action.allowWildcard && hasWildcard(pattern);
  const candidates = wildcard ? await expandWildcard(root, pattern.replace('/./', '/')) : [pattern];
  const matches: MatchedSource[] = [];
  for (const relative of candidates) {
    if (relative !== '' && excludes?.(relative.replace('/./', '/')) === true) continue;
    const host = await resolveInRoot(root, relative.replace('/./', '/'), action.followSymlinks);
    const stats = await lstat(host).catch(() => undefined);
    if (stats !== undefined)
      matches.push({ relative: relative === '' ? '.' : relative, host, stats });
  }
  if (matches.length === 0 && !(wildcard && action.allowEmptyWildcard)) {
    throw new TbuildError(
      'TB_COPY_SOURCE_NOT_FOUND',
      `"${action.src}": not found in the copy source`,
      {
        hint: 'check the path, and that .dockerignore does not exclude it',
        details: { path: action.src },
      },
    );
  }
  return matches;
}

/** For `COPY --parents a/./b/c`, the kept directories are `b`; without a pivot, all of `a/b`. */
function parentsBelowPivot(relative: string): string {
  const pivot = relative.indexOf('/./');
  const kept = pivot < 0 ? relative : relative.slice(pivot + 3);
  const parent = posix.dirname(kept);
  return parent === '.' ? '' : parent;
}

/** Unbatched copies of files above this size use the async API. */
const SYNC_COPY_LIMIT = 4 * 1024 * 1024;

/** A copied directory's own metadata, set once everything inside it is written. */
interface DirectoryMetadata {
  readonly path: string;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
}

/**
 * Walks trees with the sync fs API in time slices (see TimeSlicer) and hands
 * regular files to a BatchWriter, which copies or links them a directory's
 * worth per native call on libuv threads. What must wait for those writes —
 * second names of hard-linked sources, and directories' own metadata (every
 * entry made inside a directory moves its mtime) — is done by `finish`.
 */
class TreeCopier {
  /** Source inode → first copy, so hardlinks stay hardlinks. */
  readonly #links = new Map<string, string>();
  /** Tells the FileReuse a link it offered was copied instead (one function for every file). */
  readonly #linkFailed = (): void => {
    this.context.reuse?.linkFailed();
  };
  readonly #slicer: TimeSlicer;
  readonly #writer: BatchWriter;
  /** Further names of hard-linked sources: [first copy, target], linked once the first exists. */
  #pendingLinks: [string, string][] = [];
  /** Deepest first, so a parent's times are set after its children's changes. */
  #pendingDirectories: DirectoryMetadata[] = [];
  readonly context: CopyContext;
  readonly mode: ModeSpec | undefined;

  constructor(context: CopyContext, mode: ModeSpec | undefined) {
    this.context = context;
    this.mode = mode;
    this.#slicer = new TimeSlicer(context.signal);
    this.#writer = new BatchWriter(context.signal === undefined ? {} : { signal: context.signal });
  }

  /** Waits for the queued writes, then makes the pending links and sets directory metadata. */
  async finish(): Promise<void> {
    await this.#writer.flush();
    const links = this.#pendingLinks;
    const directories = this.#pendingDirectories;
    this.#pendingLinks = [];
    this.#pendingDirectories = [];
    for (const [first, target] of links) linkSync(first, target);
    for (const directory of directories) {
      lchownSync(directory.path, directory.uid, directory.gid);
      chmodSync(directory.path, directory.mode);
      utimesSync(directory.path, directory.atimeMs / 1000, directory.mtimeMs / 1000);
    }
  }

  /** After a failure: lets writes in flight land, so nothing writes into the target once the copy has failed. */
  async abandon(): Promise<void> {
    await this.#writer.abandon();
  }

  async makeParents(directory: string, root: string): Promise<void> {
    const missing: string[] = [];
    let current = directory;
    while (current.length > root.length && !(await exists(current))) {
      missing.unshift(current);
      current = posix.dirname(current);
    }
    for (const path of missing) {
      await mkdir(path, { mode: 0o755 });
      await chmod(path, 0o755);
      if (this.context.owner !== undefined)
        await lchown(path, this.context.owner.uid, this.context.owner.gid);
    }
  }

  /**
   * `at.root` is the entry's path below the source root, `at.source` below the
   * copied source. `at.fresh` says the target's directory was just created by
   * this copy, so nothing can be in the way.
   */
  async copy(
    source: string,
    target: string,
    stats: EntryStats,
    at: { root: string; source: string; fresh?: boolean },
  ): Promise<void> {
    throwIfAborted(this.context.signal);
    if (this.#slicer.due()) await this.#slicer.pause();
    const relative = at.source;
    if (
      relative !== '' &&
      (this.context.excludes?.(at.root) === true ||
        this.context.sourceExcludes?.(relative) === true)
    ) {
      return;
    }
    const uid = this.context.owner?.uid ?? stats.uid;
    const gid = this.context.owner?.gid ?? stats.gid;
    const mode =
      this.mode === undefined
        ? stats.mode & 0o7777
        : applyModeSpec(this.mode, stats.mode, isDirectory(stats));

    if (isDirectory(stats)) {
      const existing = at.fresh === true ? undefined : lstatOrUndefined(target);
      if (existing !== undefined && !existing.isDirectory()) rmSync(target, { force: true });
      if (existing?.isDirectory() !== true) mkdirSync(target);
      const listing = this.context.listings?.(source) ?? nativeFs.scanDirectory(source);
      for (const entry of listing.sortedEntries()) {
        const name = entry.name;
        if (!entry.nameIsUtf8) {
          const path = relative === '' ? name : `${relative}/${name}`;
          throw new TbuildError('TB_FILEOP', `cannot copy ${path}: its name is not valid UTF-8`, {
            details: { path },
          });
        }
        await this.copy(`${source}/${name}`, `${target}/${name}`, fromScanned(entry), {
          root: at.root === '' ? name : `${at.root}/${name}`,
          source: relative === '' ? name : `${relative}/${name}`,
          fresh: existing === undefined,
        });
      }
      this.#pendingDirectories.push({
        path: target,
        uid,
        gid,
        mode,
        atimeMs: wholeMs(stats.atimeMs),
        mtimeMs: wholeMs(stats.mtimeMs),
      });
      return;
    }

    if (at.fresh !== true) replaceable(target, relative);
    const inode = stats.nlink > 1 ? `${stats.dev}:${stats.ino}` : '';
    const firstCopy = stats.nlink > 1 ? this.#links.get(inode) : undefined;
    if (firstCopy !== undefined) {
      this.#pendingLinks.push([firstCopy, target]);
      return;
    }
    if (isSymbolicLink(stats)) {
      symlinkSync(readlinkSync(source), target);
      lchownSync(target, uid, gid);
      lutimesSync(target, wholeMs(stats.atimeMs) / 1000, wholeMs(stats.mtimeMs) / 1000);
      return;
    }
    if (!isFile(stats)) {
      throw new TbuildError(
        'TB_FILEOP',
        `cannot copy special file ${relative || source}: only files, directories and symlinks are copied`,
        {
          details: { path: relative },
        },
      );
    }
    if (stats.nlink > 1) this.#links.set(inode, target);
    await this.#writeFile(source, target, stats, { uid, gid, mode });
  }

  /** Links the earlier equal file (FileReuse) or copies, queued when source and target share a name. */
  async #writeFile(
    source: string,
    target: string,
    stats: EntryStats,
    owner: { uid: number; gid: number; mode: number },
  ): Promise<void> {
    const file: CopiedFile = {
      uid: owner.uid,
      gid: owner.gid,
      mode: owner.mode,
      atimeMs: wholeMs(stats.atimeMs),
      mtimeMs: wholeMs(stats.mtimeMs),
    };
    const reuse = this.context.reuse;
    const inLayer = target.slice(this.context.destRoot.length + 1);
    // A CopiedFile is a WantedFile: ownership, mode and mtime (and an atime, unused there).
    const earlier = await reuse?.earlierEqual(source, stats, inLayer, file);
    const name = posix.basename(target);
    if (posix.basename(source) !== name) {
      // A single file copied under another name (COPY a.txt /b.txt): not worth a batch.
      if (earlier !== undefined && linkOrFalse(earlier, target)) return;
      if (earlier !== undefined) reuse?.linkFailed();
      await copyOneFile(source, target, stats.size, file);
      reuse?.copied(inLayer, stats);
      return;
    }
    const sourceDir = posix.dirname(source);
    const targetDir = posix.dirname(target);
    if (earlier !== undefined) {
      await this.#writer.link(posix.dirname(earlier), targetDir, name, {
        sourceDir,
        file,
        onCopied: this.#linkFailed,
      });
      return;
    }
    await this.#writer.copy(sourceDir, targetDir, name, file);
    reuse?.copied(inLayer, stats);
  }
}

/** The unbatched copy of one regular file, with the copy's owner, mode and times. */
async function copyOneFile(
  source: string,
  target: string,
  size: number,
  file: CopiedFile,
): Promise<void> {
  // A big file is copied off the main thread, so it cannot hold the event loop.
  if (size > SYNC_COPY_LIMIT) await copyFile(source, target);
  else copyFileSync(source, target);
  // chown before chmod: chown clears setuid and setgid bits.
  lchownSync(target, file.uid, file.gid);
  chmodSync(target, file.mode);
  utimesSync(target, file.atimeMs / 1000, file.mtimeMs / 1000);
}

/** A hard link, or false when it cannot be made (the earlier file gone, too many links). */
function linkOrFalse(existing: string, target: string): boolean {
  try {
    linkSync(existing, target);
    return true;
  } catch {
    return false;
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  return lstatSync(path, { throwIfNoEntry: false });
}

/** A file, symlink or empty directory at `target` is replaced, as docker's COPY overwrites. */
function replaceable(target: string, relative: string): void {
  const existing = lstatOrUndefined(target);
  if (existing === undefined) return;
  if (existing.isDirectory()) {
    throw new TbuildError(
      'TB_FILEOP',
      `cannot replace directory with a file at ${relative || posix.basename(target)}`,
      {
        details: { path: relative },
      },
    );
  }
  rmSync(target, { force: true });
}
