import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isTbuildError, TbuildError } from '../../../core/index.js';
import type { CacheMount } from '../../../solver/index.js';
import { applyCopy } from '../../fileop/index.js';

/** Where a cache mount's starting content comes from (`from=` and `source=`). */
export interface CacheSeed {
  /** A read view of the mount's input. */
  readonly view: string;
  /** The input's snapshot (undefined: scratch), part of the cache's identity. */
  readonly snapshot: string | undefined;
}

/**
 * Where the cache mount of `identity` lives: its id alone for a mount without
 * `from` (what `--cache-to cache-mounts=true` exports and imports).
 */
export function cacheMountPath(cacheMountDir: string, identity: string): string {
  return join(cacheMountDir, createHash('sha256').update(identity).digest('hex').slice(0, 32));
}

/**
 * A cache mount's persistent directory, made on first use.
 *
 * Without `from`, a new one is empty, with the mount's uid, gid and mode.
 * With `from=STAGE,source=/dir`, it starts as a copy of that stage's `/dir`
 * (the Dockerfile reference, RUN --mount=type=cache: "from: build stage,
 * context, or image name to use as a base of the cache mount"), and it is a
 * cache of its own for each such input: BuildKit keys the directory by
 * `id:ref.ID()` (solver/llbsolver/mounts/mount.go, getRefCacheDir) and mounts
 * `source` of a mutable copy of the ref, so uid, gid and mode do not apply
 * (convert_runmount.go sets them only when there is no source).
 */
export async function cacheMountDirectory(
  mount: CacheMount,
  seed: CacheSeed | undefined,
  cacheMountDir: string,
  signal: AbortSignal,
): Promise<string> {
  const identity =
    seed === undefined ? mount.id : `${mount.id}\0${seed.snapshot ?? 'scratch'}\0${mount.selector}`;
  const dir = cacheMountPath(cacheMountDir, identity);
  if ((await stat(dir).catch(() => undefined)) !== undefined) return dir;
  if (seed === undefined) {
    await mkdir(dir, { recursive: true });
    await chown(dir, mount.uid, mount.gid);
    await chmod(dir, mount.mode);
    return dir;
  }
  await mkdir(cacheMountDir, { recursive: true });
  // Copied aside, then renamed into place: a run that starts meanwhile never mounts half a seed.
  const aside = await mkdtemp(join(cacheMountDir, `.seed-${randomBytes(4).toString('hex')}-`));
  try {
    await copySeed(mount, seed, aside, signal);
    await rename(join(aside, 'seed'), dir).catch(async (error: unknown) => {
      // Another run seeded it first: use theirs.
      if ((await stat(dir).catch(() => undefined)) === undefined) throw error;
    });
  } finally {
    await rm(aside, { recursive: true, force: true });
  }
  return dir;
}

/** The seed directory itself (its own mode, owner and times) copied to `<aside>/seed`. */
async function copySeed(
  mount: CacheMount,
  seed: CacheSeed,
  aside: string,
  signal: AbortSignal,
): Promise<void> {
  try {
    await applyCopy(
      {
        action: 'copy',
        src: mount.selector,
        dest: '/seed',
        followSymlinks: true,
        dirContents: false,
        createDestPath: true,
        allowWildcard: false,
        allowEmptyWildcard: false,
        includePatterns: [],
        excludePatterns: [],
        parents: false,
        unpack: false,
      },
      { sourceRoot: seed.view, destRoot: aside, signal },
    );
  } catch (error) {
    if (!isTbuildError(error, 'TB_COPY_SOURCE_NOT_FOUND')) throw error;
    throw new TbuildError(
      'TB_COPY_SOURCE_NOT_FOUND',
      `cache mount ${mount.target}: source ${mount.selector} not found in its "from" input`,
      { hint: "check the mount's source= path in the stage or image named by from=", cause: error },
    );
  }
  const made = await stat(join(aside, 'seed'));
  if (!made.isDirectory()) {
    throw new TbuildError(
      'TB_FILEOP',
      `cache mount ${mount.target}: source ${mount.selector} is not a directory`,
      { hint: 'a cache mount starts from a directory of the stage or image named by from=' },
    );
  }
}
