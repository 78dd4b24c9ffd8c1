/**
 * ADD's git source: fetch one ref of a remote with the git CLI and check it out into
 * `destDir`, as BuildKit's git source does (source/git):
 * - a scratch bare repository receives a shallow (`--depth=1`) fetch of just that ref,
 *   falling back to a full fetch where the server cannot serve shallow (dumb HTTP) or
 *   the ref is an abbreviated commit;
 * - without `keepGitDir`, the tree (or only `subdir` of it) is checked out with no `.git`;
 * - with `keepGitDir` (and no subdir, where BuildKit ignores it), destDir is a repository
 *   whose HEAD is the commit, whose origin is the remote with credentials redacted, and
 *   whose reflog and FETCH_HEAD are gone so nothing depends on when it was fetched;
 * - `checksum` must be a prefix of the commit (or of an annotated tag's object id);
 * - submodules are initialised (shallow), as BuildKit does, when the whole tree is taken.
 */
import { lstat, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TbuildError, noopLogger, type Logger } from '../../core/index.js';
import type { GitSource } from '../../solver/index.js';
import { parseGitChecksum } from './checksum.js';
import { runGit, type GitRunOptions } from './git-command.js';
import { normalizeSubdir } from './git-ref.js';
import { resolveTarget, type Target } from './git-resolve.js';
import { redactUrl } from './redact.js';

export interface FetchGitOptions {
  /** Directory the checkout lands in; created when missing, expected to be empty. */
  readonly destDir: string;
  readonly signal: AbortSignal;
  readonly logger?: Logger;
  /** Where the scratch repository goes; the system temp directory by default. */
  readonly tmpDir?: string;
  readonly gitBinary?: string;
  /** PATH for git and its helpers (ssh, credential helpers). */
  readonly path?: string;
}

export interface FetchGitResult {
  readonly commit: string;
}

export async function fetchGit(
  source: GitSource,
  options: FetchGitOptions,
): Promise<FetchGitResult> {
  const logger = options.logger ?? noopLogger;
  const shown = redactUrl(source.remote);
  const checksum = source.checksum === undefined ? undefined : parseGitChecksum(source.checksum);
  const subdir = normalizeSubdir(source.subdir);
  const run = (args: readonly string[], extra: Partial<GitRunOptions> = {}) =>
    runGit(args, {
      signal: options.signal,
      ...(options.gitBinary === undefined ? {} : { gitBinary: options.gitBinary }),
      ...(options.path === undefined ? {} : { path: options.path }),
      ...extra,
    });

  const scratch = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'tbuild-git-'));
  const bare = join(scratch, 'repo.git');
  const inBare = (args: readonly string[], extra: Partial<GitRunOptions> = {}) =>
    run(['--git-dir', bare, ...args], extra);
  try {
    await run(['init', '--quiet', '--bare', bare]);
    await inBare(['remote', 'add', 'origin', source.remote]);
    const target = await resolveTarget(source.ref, shown, 'origin', (args) => inBare(args));
    logger.debug('fetching git source', { remote: shown, ref: source.ref });
    const local = await fetchTarget(target, source.ref, shown, inBare);
    const commit = (await inBare(['rev-parse', '--verify', `${local}^{commit}`])).stdout.trim();
    const tagObject = target.tagObject;
    if (
      checksum !== undefined &&
      !commit.startsWith(checksum) &&
      tagObject?.startsWith(checksum) !== true
    ) {
      throw new TbuildError(
        'TB_CHECKSUM_MISMATCH',
        `checksum mismatch for ${shown}#${source.ref}: got commit ${commit}, expected ${checksum}`,
        {
          details: { remote: shown, ref: source.ref, actual: commit, expected: checksum },
          hint: 'the ref moved upstream, or the --checksum is wrong',
        },
      );
    }

    await mkdir(options.destDir, { recursive: true });
    if (source.keepGitDir && subdir.length === 0) {
      await checkoutWithGitDir(bare, commit, local, shown, options.destDir, run);
    } else {
      await checkoutTree(bare, commit, subdir, source.ref, shown, options.destDir, run);
    }
    logger.debug('checked out git source', { remote: shown, commit });
    return { commit };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Fetches what `target` names into the bare repository; returns a local name for it. */
async function fetchTarget(
  target: Target,
  ref: string,
  shown: string,
  git: (args: readonly string[], extra?: Partial<GitRunOptions>) => Promise<unknown>,
): Promise<string> {
  const shallowOrFull = async (args: string[]): Promise<void> => {
    try {
      await git(['fetch', '--quiet', '--depth=1', ...args]);
    } catch (error) {
      if (error instanceof TbuildError && error.code === 'TB_CANCELED') throw error;
      // Dumb HTTP servers and some old ones cannot serve a shallow fetch; BuildKit retries too.
      await git(['fetch', '--quiet', ...args]);
    }
  };
  if (target.refName !== undefined) {
    await shallowOrFull(['--no-tags', 'origin', `+${target.refName}:${target.refName}`]);
    return target.refName;
  }
  if (target.commit !== undefined) {
    const local = `refs/tbuild/${target.commit}`;
    try {
      await shallowOrFull(['--no-tags', 'origin', `+${target.commit}:${local}`]);
    } catch (error) {
      if (error instanceof TbuildError && error.code === 'TB_CANCELED') throw error;
      // Servers that refuse a want of an unadvertised commit: take everything and look.
      await fetchEverything(git);
      await git(['update-ref', local, target.commit], { errorCode: 'TB_GIT_REF_NOT_FOUND' }).catch(
        (cause: unknown) => {
          throw notFound(shown, ref, cause);
        },
      );
    }
    return local;
  }
  await fetchEverything(git);
  const short = target.shortCommit ?? ref;
  const local = `refs/tbuild/${short}`;
  try {
    await git(['update-ref', local, `${short}^{commit}`]);
  } catch (cause) {
    throw notFound(shown, ref, cause);
  }
  return local;
}

async function fetchEverything(git: (args: readonly string[]) => Promise<unknown>): Promise<void> {
  await git(['fetch', '--quiet', '--tags', 'origin', '+refs/heads/*:refs/remotes/origin/*']);
}

function notFound(shown: string, ref: string, cause: unknown): TbuildError {
  return new TbuildError(
    'TB_GIT_REF_NOT_FOUND',
    `${shown} does not contain ref ${JSON.stringify(ref)}`,
    {
      cause,
      details: { remote: shown, ref },
    },
  );
}

type Run = (args: readonly string[], extra?: Partial<GitRunOptions>) => Promise<unknown>;

/** destDir becomes a repository at `commit`, fetched from the scratch one over file://. */
async function checkoutWithGitDir(
  bare: string,
  commit: string,
  local: string,
  shown: string,
  destDir: string,
  run: Run,
): Promise<void> {
  await run(['init', '--quiet', destDir]);
  const inDest = (args: readonly string[]) => run(['-C', destDir, ...args]);
  // file:// rather than a path: no local-clone hardlinks or alternates into scratch space.
  await inDest(['remote', 'add', 'origin', `file://${bare}`]);
  await inDest(['fetch', '--quiet', '--depth=1', '--no-tags', 'origin', `+${local}:${local}`]);
  await inDest(['checkout', '--quiet', commit]);
  if (local.startsWith('refs/heads/')) {
    // Leave HEAD on the branch, as a clone of it would.
    await inDest(['checkout', '--quiet', '-B', local.slice('refs/heads/'.length), commit]);
  }
  if (!local.startsWith('refs/heads/') && !local.startsWith('refs/tags/')) {
    await inDest(['update-ref', '-d', local]);
  }
  await inDest(['remote', 'set-url', 'origin', shown]);
  await inDest(['reflog', 'expire', '--all', '--expire=now']);
  await rm(join(destDir, '.git', 'FETCH_HEAD'), { force: true });
  await initSubmodules(destDir, ['-C', destDir], run);
}

/** The tree of `commit`, or only `subdir` of it, without a .git. */
async function checkoutTree(
  bare: string,
  commit: string,
  subdir: readonly string[],
  ref: string,
  shown: string,
  destDir: string,
  run: Run,
): Promise<void> {
  if (subdir.length === 0) {
    await run(
      ['--git-dir', bare, '--work-tree', destDir, 'checkout', '--quiet', commit, '--', '.'],
      {
        cwd: destDir,
      },
    );
    await initSubmodules(destDir, ['--git-dir', bare, '--work-tree', destDir], run);
    return;
  }
  // Only the subdirectory is checked out, into a scratch directory inside destDir (so on
  // the same filesystem, as BuildKit does), whose entries are then renamed into place.
  const scratch = await mkdtemp(join(destDir, '.tbuild-checkout-'));
  try {
    const pathspec = subdir.join('/');
    await run(
      ['--git-dir', bare, '--work-tree', scratch, 'checkout', '--quiet', commit, '--', pathspec],
      { cwd: scratch, errorCode: 'TB_GIT_REF_NOT_FOUND' },
    ).catch((cause: unknown) => {
      if (cause instanceof TbuildError && cause.code === 'TB_CANCELED') throw cause;
      throw new TbuildError(
        'TB_GIT_REF_NOT_FOUND',
        `subdirectory ${JSON.stringify(pathspec)} is not in ${shown}#${ref} (${commit})`,
        { cause, details: { remote: shown, ref, subdir: pathspec } },
      );
    });
    const from = await realDirectoryBelow(scratch, subdir, pathspec, shown);
    for (const name of await readdir(from)) await rename(join(from, name), join(destDir, name));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** `root/parts…`, refusing symlinks on the way: a committed `sub -> /etc` must not be read. */
async function realDirectoryBelow(
  root: string,
  parts: readonly string[],
  pathspec: string,
  shown: string,
): Promise<string> {
  let current = root;
  for (const part of parts) {
    current = join(current, part);
    const stats = await lstat(current).catch(() => undefined);
    if (stats?.isDirectory() !== true) {
      throw new TbuildError(
        'TB_GIT_REF_NOT_FOUND',
        `subdirectory ${JSON.stringify(pathspec)} of ${shown} is not a directory`,
        { details: { remote: shown, subdir: pathspec } },
      );
    }
  }
  return current;
}

async function initSubmodules(dir: string, gitArgs: readonly string[], run: Run): Promise<void> {
  const gitmodules = await lstat(join(dir, '.gitmodules')).catch(() => undefined);
  if (gitmodules?.isFile() !== true) return;
  await run([...gitArgs, 'submodule', 'update', '--quiet', '--init', '--recursive', '--depth=1'], {
    cwd: dir,
  });
}
