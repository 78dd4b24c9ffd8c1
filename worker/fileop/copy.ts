import {
  chmodSync,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  type Stats,
} from 'node:fs';
import { chmod, copyFile, lchown, lstat, mkdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { TbuildError, throwIfAborted } from '../../core/index.js';
import type { CopyAction } from '../../solver/index.js';
import { TimeSlicer } from '../threads/index.js';
import { applyModeSpec, parseModeSpec, type ModeSpec } from './chmod.js';
import { exists } from './exists.js';
import { resolveInRoot } from './in-root.js';
import type { ResolvedOwner } from './owners.js';
import { expandWildcard, hasWildcard } from './wildcard.js';
import { unpackIfArchive } from './unpack-copy.js';
import type { FileReuse } from './reuse.js';

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

  for (const source of sources) {
    throwIfAborted(context.signal);
    const { host, stats, relative } = source;
    if (await unpackIfArchive(action, source, destHost, context)) continue;
    const keptParents = action.parents ? parentsBelowPivot(relative) : '';
    const base = keptParents === '' ? destHost : `${destHost}/${keptParents}`;
    let target: string;
    if (stats.isDirectory() && action.dirContents) target = base;
    else if (destIsDirectory || keptParents !== '') target = `${base}/${posix.basename(relative)}`;
    else target = destHost;
    if (action.createDestPath || destIsDirectory)
      await copier.makeParents(posix.dirname(target), context.destRoot);
    await copier.copy(host, target, stats, { root: relative === '.' ? '' : relative, source: '' });
  }
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

/** Files above this size are copied with the async API, so one big file cannot hold the event loop. */
const SYNC_COPY_LIMIT = 4 * 1024 * 1024;

/**
 * Copies trees entry by entry with the sync fs API in time slices (see
 * TimeSlicer): a context of thousands of small files is all metadata calls,
 * and a thread-pool round trip per call cost several times the call itself.
 */
class TreeCopier {
  /** Source inode → first copy, so hardlinks stay hardlinks. */
  readonly #links = new Map<string, string>();
  readonly #slicer: TimeSlicer;
  readonly context: CopyContext;
  readonly mode: ModeSpec | undefined;

  constructor(context: CopyContext, mode: ModeSpec | undefined) {
    this.context = context;
    this.mode = mode;
    this.#slicer = new TimeSlicer(context.signal);
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
    stats: Stats,
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
        : applyModeSpec(this.mode, stats.mode, stats.isDirectory());

    if (stats.isDirectory()) {
      const existing = at.fresh === true ? undefined : lstatOrUndefined(target);
      if (existing !== undefined && !existing.isDirectory()) rmSync(target, { force: true });
      if (existing?.isDirectory() !== true) mkdirSync(target);
      for (const name of readdirSync(source).sort()) {
        const child = `${source}/${name}`;
        await this.copy(child, `${target}/${name}`, lstatSync(child), {
          root: at.root === '' ? name : `${at.root}/${name}`,
          source: relative === '' ? name : `${relative}/${name}`,
          fresh: existing === undefined,
        });
      }
      lchownSync(target, uid, gid);
      chmodSync(target, mode);
      utimesSync(target, stats.atime, stats.mtime);
      return;
    }

    if (at.fresh !== true) replaceable(target, relative);
    const inode = `${String(stats.dev)}:${String(stats.ino)}`;
    const firstCopy = stats.nlink > 1 ? this.#links.get(inode) : undefined;
    if (firstCopy !== undefined) {
      linkSync(firstCopy, target);
      return;
    }
    if (stats.isSymbolicLink()) {
      symlinkSync(readlinkSync(source), target);
      lchownSync(target, uid, gid);
      lutimesSync(target, stats.atime, stats.mtime);
      return;
    }
    if (!stats.isFile()) {
      throw new TbuildError(
        'TB_FILEOP',
        `cannot copy special file ${relative || source}: only files, directories and symlinks are copied`,
        {
          details: { path: relative },
        },
      );
    }
    const reuse = this.context.reuse;
    const inLayer = target.slice(this.context.destRoot.length + 1);
    if (
      reuse !== undefined &&
      (await reuse.tryLink(source, stats, target, inLayer, {
        uid,
        gid,
        mode,
        mtimeMs: stats.mtime.getTime(),
      }))
    ) {
      if (stats.nlink > 1) this.#links.set(inode, target);
      return;
    }
    if (stats.size > SYNC_COPY_LIMIT) await copyFile(source, target);
    else copyFileSync(source, target);
    reuse?.copied(inLayer, stats);
    // chown before chmod: chown clears setuid and setgid bits.
    lchownSync(target, uid, gid);
    chmodSync(target, mode);
    utimesSync(target, stats.atime, stats.mtime);
    if (stats.nlink > 1) this.#links.set(inode, target);
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
