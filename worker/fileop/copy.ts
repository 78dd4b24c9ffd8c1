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
import { keepsAnything, type PathFilter } from './path-filter.js';
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
  readonly excludes?: PathFilter;
  /** Paths relative to each copied source that are left out (`COPY --exclude`). */
  readonly sourceExcludes?: PathFilter;
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
 * or `--chown`'s, modes are the source's or `--chmod`'s. The directory that
 * receives a directory's contents is the destination's, not the source's: made
 * 0755 (or the octal `--chmod`) and root's (or `--chown`'s) when missing, its
 * mode and owner kept when it exists; only the source's times reach it
 * (fsutil copy.Copy: prepareTargetDir's MkdirAll, then copyFileTimestamp;
 * moby/buildkit#1941).
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
  // With --parents a directory is one of the kept paths, not a contents copy (BuildKit
  // copies from the pivot with the path as an include pattern).
  const contentsOnly = stats.isDirectory() && action.dirContents && !action.parents;
  let target: string;
  if (contentsOnly) target = base;
  else if (destIsDirectory || action.parents) target = `${base}/${posix.basename(relative)}`;
  else target = destHost;
  if (action.parents && (action.createDestPath || destIsDirectory))
    await copier.makeParents(destHost, context.destRoot);
  const parentsMade =
    keptParents === ''
      ? []
      : copier.makeKeptParents(destHost, keptParents, source.root, pivotDirectory(relative));
  if (action.createDestPath || destIsDirectory)
    await copier.makeParents(posix.dirname(target), context.destRoot);
  await copier.copy(host, target, fromNodeStats(stats), {
    root: relative === '.' ? '' : relative,
    source: '',
    contentsOnly,
  });
  copier.setAfterWrites(parentsMade);
}

interface MatchedSource {
  /** The copy's source root (kept --parents directories are read from it). */
  readonly root: string;
  readonly relative: string;
  readonly host: string;
  readonly stats: Stats;
}

async function matchSources(
  action: CopyAction,
  root: string,
  excludes: PathFilter | undefined,
): Promise<MatchedSource[]> {
  const pattern = action.src.replace(/^\/+/, '');
  const wildcard = action.allowWildcard && hasWildcard(pattern);
  const candidates = wildcard ? await expandWildcard(root, pattern.replace('/./', '/')) : [pattern];
  const matches: MatchedSource[] = [];
  for (const relative of candidates) {
    const path = relative.replace('/./', '/');
    const host = await resolveInRoot(root, path, action.followSymlinks);
    const stats = await lstat(host).catch(() => undefined);
    if (stats === undefined) continue;
    // An excluded directory counts when an exception keeps something in it (PathFilter).
    if (
      relative !== '' &&
      excludes?.excludes(path) === true &&
      !(stats.isDirectory() && keepsAnything(host, path, excludes))
    )
      continue;
    matches.push({ root, relative: relative === '' ? '.' : relative, host, stats });
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

/** The source directory the kept parents are below: `a` for `a/./b/c`, the root without a pivot. */
function pivotDirectory(relative: string): string {
  const pivot = relative.indexOf('/./');
  return pivot < 0 ? '' : relative.slice(0, pivot);
}

/** Unbatched copies of files above this size use the async API. */
const SYNC_COPY_LIMIT = 4 * 1024 * 1024;

/**
 * A copied directory's own metadata, set once everything inside it is written.
 * Without owner and mode only the times are set (a destination that receives a
 * directory's contents keeps its own).
 */
interface DirectoryMetadata {
  readonly path: string;
  readonly owner?: { readonly uid: number; readonly gid: number; readonly mode: number };
  readonly atimeMs: number;
  readonly mtimeMs: number;
}

/**
 * An excluded directory being walked for what an exception keeps (PathFilter):
 * made at `target`, with its parents, only when a kept entry needs it.
 */
interface DeferredDirectory {
  readonly target: string;
  readonly parent: DeferredDirectory | undefined;
  made: boolean;
}

/** Where an entry is: its paths below the source root and below the copied source. */
interface CopyPosition {
  readonly root: string;
  readonly source: string;
  /** The target's directory was just created by this copy, so nothing can be in the way. */
  readonly fresh?: boolean;
  /** The copied source is a directory whose contents go into `target` (CopyAction.dirContents). */
  readonly contentsOnly?: boolean;
  /** The nearest excluded directory above, not made yet. */
  readonly deferred?: DeferredDirectory;
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
      if (directory.owner !== undefined) {
        lchownSync(directory.path, directory.owner.uid, directory.owner.gid);
        chmodSync(directory.path, directory.owner.mode);
      }
      utimesSync(directory.path, directory.atimeMs / 1000, directory.mtimeMs / 1000);
    }
  }

  /** Directories whose metadata is set by `finish`, after what is written into them (deepest first). */
  setAfterWrites(directories: readonly DirectoryMetadata[]): void {
    this.#pendingDirectories.push(...directories);
  }

  /**
   * `COPY --parents`: the directories kept between the destination and a source,
   * made as copies of the source's own (mode, owner or `--chown`, times; `--chmod`
   * applies), as fsutil's createParentDirs makes them. Existing ones are left as
   * they are. Returns their metadata, deepest first, for `setAfterWrites`.
   */
  makeKeptParents(
    destHost: string,
    kept: string,
    sourceRoot: string,
    pivot: string,
  ): DirectoryMetadata[] {
    const made: DirectoryMetadata[] = [];
    const parts = kept.split('/');
    for (let depth = 1; depth <= parts.length; depth++) {
      const path = parts.slice(0, depth).join('/');
      const target = `${destHost}/${path}`;
      if (lstatOrUndefined(target) !== undefined) continue;
      const from = lstatOrUndefined(`${sourceRoot}/${pivot === '' ? path : `${pivot}/${path}`}`);
      mkdirSync(target, { mode: 0o755 });
      if (from?.isDirectory() !== true) {
        chmodSync(target, 0o755);
        continue;
      }
      made.unshift(this.#metadata(target, fromNodeStats(from)));
    }
    return made;
  }

  /** A directory copied from `stats`: its mode (or --chmod's), owner (or --chown's) and times. */
  #metadata(path: string, stats: EntryStats): DirectoryMetadata {
    return {
      path,
      owner: {
        uid: this.context.owner?.uid ?? stats.uid,
        gid: this.context.owner?.gid ?? stats.gid,
        mode:
          this.mode === undefined
            ? stats.mode & 0o7777
            : applyModeSpec(this.mode, stats.mode, true),
      },
      atimeMs: wholeMs(stats.atimeMs),
      mtimeMs: wholeMs(stats.mtimeMs),
    };
  }

  /** Makes an excluded directory (and the excluded ones above it) now that something in it is kept. */
  #make(deferred: DeferredDirectory | undefined): void {
    if (deferred === undefined || deferred.made) return;
    this.#make(deferred.parent);
    const existing = lstatOrUndefined(deferred.target);
    if (existing !== undefined && !existing.isDirectory()) rmSync(deferred.target, { force: true });
    if (existing?.isDirectory() !== true) mkdirSync(deferred.target);
    deferred.made = true;
  }

  /** The excluded-by-filter test for an entry below the copied source. */
  #excluded(at: CopyPosition): { excluded: boolean; walk: boolean } {
    if (at.source === '') return { excluded: false, walk: true };
    const { excludes: root, sourceExcludes: own } = this.context;
    const byRoot = root !== undefined && root.excludes(at.root);
    const byOwn = own !== undefined && own.excludes(at.source);
    if (!byRoot && !byOwn) return { excluded: false, walk: true };
    const walk =
      (!byRoot || root.mayKeepInside(at.root)) && (!byOwn || own.mayKeepInside(at.source));
    return { excluded: true, walk };
  }

  /** After a failure: lets writes in flight land, so nothing writes into the target once the copy has failed. */
  async abandon(): Promise<void> {
    await this.#writer.abandon();
  }

  /** The destination made for a directory's contents: 0755 or the octal --chmod, root's or --chown's. */
  #newContentsDirectory(target: string): void {
    // chown before chmod: chown clears setuid and setgid bits. Without --chown, root's
    // (a setgid parent would give its group); only root may give it to root.
    const owner = this.context.owner ?? (process.getuid?.() === 0 ? { uid: 0, gid: 0 } : undefined);
    if (owner !== undefined) lchownSync(target, owner.uid, owner.gid);
    chmodSync(target, this.mode?.kind === 'octal' ? this.mode.mode & 0o777 : 0o755);
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

  /** Copies one entry (a directory with everything in it) from `source` to `target`. */
  async copy(source: string, target: string, stats: EntryStats, at: CopyPosition): Promise<void> {
    throwIfAborted(this.context.signal);
    if (this.#slicer.due()) await this.#slicer.pause();
    const relative = at.source;
    const { excluded, walk } = this.#excluded(at);
    if (excluded && !(walk && isDirectory(stats))) return;
    if (!excluded) this.#make(at.deferred);
    const uid = this.context.owner?.uid ?? stats.uid;
    const gid = this.context.owner?.gid ?? stats.gid;
    const mode =
      this.mode === undefined
        ? stats.mode & 0o7777
        : applyModeSpec(this.mode, stats.mode, isDirectory(stats));

    if (isDirectory(stats)) {
      const deferred: DeferredDirectory | undefined = excluded
        ? { target, parent: at.deferred, made: false }
        : undefined;
      const existing = at.fresh === true || excluded ? undefined : lstatOrUndefined(target);
      if (existing !== undefined && !existing.isDirectory()) rmSync(target, { force: true });
      if (!excluded && existing?.isDirectory() !== true) {
        mkdirSync(target);
        if (at.contentsOnly === true) this.#newContentsDirectory(target);
      }
      const listing = this.context.listings?.(source) ?? nativeFs.scanDirectory(source);
      for (const entry of listing.sortedEntries()) {
        const name = entry.name;
        const position: CopyPosition = {
          root: at.root === '' ? name : `${at.root}/${name}`,
          source: relative === '' ? name : `${relative}/${name}`,
          fresh: !excluded && existing === undefined,
          ...(deferred === undefined ? {} : { deferred }),
        };
        const stats = fromScanned(entry);
        if (!entry.nameIsUtf8) {
          // A name with U+FFFD for its bad bytes is no path; left out, it needs none.
          const left = this.#excluded(position);
          if (left.excluded && !(left.walk && isDirectory(stats))) continue;
          throw notUtf8Name(position.source);
        }
        await this.copy(`${source}/${name}`, `${target}/${name}`, stats, position);
      }
      if (deferred?.made === false) return;
      const times = { atimeMs: wholeMs(stats.atimeMs), mtimeMs: wholeMs(stats.mtimeMs) };
      this.#pendingDirectories.push(
        at.contentsOnly === true
          ? { path: target, ...times }
          : { path: target, owner: { uid, gid, mode }, ...times },
      );
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

/**
 * A name that is not UTF-8 cannot be copied (a JS string names it with U+FFFD for
 * the bad bytes, which is no path on disk). Patterns match such a name as shown,
 * U+FFFD for each bad byte (the .dockerignore's own bad bytes read so too), so
 * `bad*` or `*utf8` leaves it out, as the hint says.
 */
function notUtf8Name(path: string): TbuildError {
  return new TbuildError('TB_FILEOP', `cannot copy ${path}: its name is not valid UTF-8`, {
    hint: 'rename it, or leave it out with .dockerignore (a pattern such as `name*` matches it)',
    details: { path },
  });
}
