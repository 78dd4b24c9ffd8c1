/**
 * What a git source's ref means on its remote, from `git ls-remote` alone: enough for a
 * cache key before anything is fetched (BuildKit's git CacheKey does the same), so an
 * unchanged branch hits the cache with one round trip and no clone.
 */
import { TbuildError, type Logger } from '../../core/index.js';
import type { GitSource } from '../../solver/index.js';
import { runGit } from './git-command.js';
import { isFullCommit, mayBeShortCommit, parseLsRemote, pickRef } from './git-ref.js';
import { redactUrl } from './redact.js';

/** What a remote ref resolves to, before anything is fetched. */
export interface Target {
  /** The ref to fetch (`refs/heads/main`), or undefined to fetch by commit id. */
  readonly refName?: string;
  /** The commit, when ls-remote or the source already told us. */
  readonly commit?: string;
  /** The annotated tag object's id, which --checksum may name too. */
  readonly tagObject?: string;
  /** An abbreviated commit id that no ref matched: fetch everything and look it up. */
  readonly shortCommit?: string;
}

export async function resolveTarget(
  ref: string,
  shown: string,
  remote: string,
  git: (args: readonly string[]) => Promise<{ stdout: string }>,
): Promise<Target> {
  if (isFullCommit(ref)) return { commit: ref };
  if (ref === '') {
    const { refs, headTarget } = parseLsRemote(
      (await git(['ls-remote', '--symref', remote, 'HEAD'])).stdout,
    );
    if (headTarget === undefined) {
      const head = refs.find((candidate) => candidate.name === 'HEAD');
      if (head !== undefined) return { commit: head.id };
      throw new TbuildError('TB_GIT_REF_NOT_FOUND', `${shown} has no default branch`, {
        details: { remote: shown },
      });
    }
    const head = refs.find((candidate) => candidate.name === 'HEAD');
    return head === undefined ? { refName: headTarget } : { refName: headTarget, commit: head.id };
  }
  const { refs } = parseLsRemote((await git(['ls-remote', remote])).stdout);
  const picked = pickRef(refs, ref);
  if (picked !== undefined) {
    return picked.peeled === undefined
      ? { refName: picked.name, commit: picked.id }
      : { refName: picked.name, commit: picked.peeled, tagObject: picked.id };
  }
  if (mayBeShortCommit(ref)) return { shortCommit: ref };
  throw new TbuildError(
    'TB_GIT_REF_NOT_FOUND',
    `${shown} does not contain ref ${JSON.stringify(ref)}`,
    {
      details: { remote: shown, ref },
      hint: 'name a branch, a tag or a commit id: repo.git#<ref>[:<subdir>]',
    },
  );
}

export interface ResolveGitOptions {
  readonly signal: AbortSignal;
  readonly logger?: Logger;
  readonly gitBinary?: string;
  readonly path?: string;
}

/**
 * The commit a git source's ref points to now, asking the remote with `git ls-remote`;
 * undefined for an abbreviated commit id, which only a fetch can expand.
 */
export async function resolveGitCommit(
  source: GitSource,
  options: ResolveGitOptions,
): Promise<string | undefined> {
  const target = await resolveTarget(source.ref, redactUrl(source.remote), source.remote, (args) =>
    runGit(args, {
      signal: options.signal,
      ...(options.gitBinary === undefined ? {} : { gitBinary: options.gitBinary }),
      ...(options.path === undefined ? {} : { path: options.path }),
    }),
  );
  return target.commit;
}
