import { chmod, lchown, lutimes, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { encodeRawText, TbuildError, throwIfAborted } from '../../core/index.js';
import type { Chown, CopyAction, FileAction, FileOp } from '../../solver/index.js';
import type { ScannedDirectory } from '../../runtime/index.js';
import { applyCopy } from './copy.js';
import { exists } from './exists.js';
import { resolveInRoot } from './in-root.js';
import { resolveOwner, type ResolvedOwner } from './owners.js';
import type { FileReuse } from './reuse.js';
import { expandWildcard, hasWildcard } from './wildcard.js';
import type { PathFilter } from './path-filter.js';

export interface CopyFilters {
  readonly excludes?: PathFilter;
  readonly sourceExcludes?: PathFilter;
}

export interface FileOpContext {
  /** Host directory of the filesystem being changed (the merged view of `op.base`, or an empty dir). */
  readonly destRoot: string;
  /** Host directories of the op's inputs, by input index (for copy sources). */
  readonly inputRoots: readonly (string | undefined)[];
  /**
   * What a copy leaves out: `excludes` over paths relative to the input's root
   * (the context's .dockerignore), `sourceExcludes` over paths relative to each
   * copied source (`COPY --exclude`).
   */
  readonly copyFilters?: (input: number | undefined, action: CopyAction) => CopyFilters;
  /** An empty directory for copies whose source is scratch. */
  readonly emptyDir: string;
  /**
   * Where `--chown` names are looked up (/etc/passwd, /etc/group): the base's
   * view when `destRoot` is a layer directory written directly; default `destRoot`.
   */
  readonly lookupRoot?: string;
  /** Earlier equal files a copy may hard-link (see FileReuse); only for a fresh layer directory. */
  readonly reuse?: FileReuse;
  /** A listing of a source directory made earlier in the build, if one was kept (CopyContext). */
  readonly listings?: (path: string) => ScannedDirectory | undefined;
  readonly signal?: AbortSignal;
}

/** Applies a file op's actions in order to `destRoot`. */
export async function applyFileOp(op: FileOp, context: FileOpContext): Promise<void> {
  for (const action of op.actions) {
    throwIfAborted(context.signal);
    await applyAction(action, context);
  }
}

async function applyAction(action: FileAction, context: FileOpContext): Promise<void> {
  const root = context.destRoot;
  switch (action.action) {
    case 'mkdir': {
      const owner = await ownerOf(action.owner, root);
      const target = await resolveInRoot(root, action.path, true);
      await makeDirectories(target, root, action.mode, action.makeParents, owner, action.timestamp);
      return;
    }
    case 'mkfile': {
      const owner = await ownerOf(action.owner, root);
      const target = await resolveInRoot(root, action.path, false);
      await rm(target, { force: true });
      // Raw text (core/raw-text.ts): a heredoc's bytes that are not UTF-8 are written as they were.
      await writeFile(target, encodeRawText(action.data));
      await chmod(target, action.mode);
      if (owner !== undefined) await lchown(target, owner.uid, owner.gid);
      if (action.timestamp !== undefined) await utimes(target, action.timestamp, action.timestamp);
      return;
    }
    case 'rm': {
      const paths =
        action.allowWildcard && hasWildcard(action.path)
          ? (await expandWildcard(root, action.path)).map((path) => `/${path}`)
          : [action.path];
      for (const path of paths) {
        const target = await resolveInRoot(root, path, false);
        if (!action.allowNotFound && !(await exists(target))) {
          throw new TbuildError('TB_FILEOP', `cannot remove ${path}: no such file or directory`, {
            details: { path },
          });
        }
        await rm(target, { recursive: true, force: true });
      }
      return;
    }
    case 'symlink': {
      const owner = await ownerOf(action.owner, root);
      const target = await resolveInRoot(root, action.path, false);
      await symlink(action.linkTarget, target);
      if (owner !== undefined) await lchown(target, owner.uid, owner.gid);
      return;
    }
    case 'copy': {
      const sourceRoot =
        action.from === undefined ? context.emptyDir : context.inputRoots[action.from];
      if (sourceRoot === undefined)
        throw new TbuildError(
          'TB_INTERNAL',
          `copy from input ${String(action.from)} has no mounted root`,
        );
      const owner = await ownerOf(action.owner, context.lookupRoot ?? root);
      const filters = context.copyFilters?.(action.from, action) ?? {};
      await applyCopy(action, {
        sourceRoot,
        destRoot: root,
        ...(owner === undefined ? {} : { owner }),
        ...(context.reuse === undefined ? {} : { reuse: context.reuse }),
        ...(context.listings === undefined ? {} : { listings: context.listings }),
        ...filters,
        ...(context.signal === undefined ? {} : { signal: context.signal }),
      });
      return;
    }
  }
}

async function ownerOf(chown: Chown | undefined, root: string): Promise<ResolvedOwner | undefined> {
  return chown === undefined ? undefined : resolveOwner(chown, root);
}

async function makeDirectories(
  target: string,
  root: string,
  mode: number,
  parents: boolean,
  owner: ResolvedOwner | undefined,
  timestamp: number | undefined,
): Promise<void> {
  const missing: string[] = [];
  for (
    let current = target;
    current.length > root.length && !(await exists(current));
    current = posix.dirname(current)
  ) {
    missing.unshift(current);
  }
  if (missing.length > 1 && !parents) {
    throw new TbuildError(
      'TB_FILEOP',
      `cannot create directory /${posix.relative(root, target)}: its parent does not exist`,
    );
  }
  for (const directory of missing) {
    await mkdir(directory, { mode });
    await chmod(directory, mode);
    if (owner !== undefined) await lchown(directory, owner.uid, owner.gid);
    if (timestamp !== undefined) await lutimes(directory, timestamp, timestamp);
  }
}
