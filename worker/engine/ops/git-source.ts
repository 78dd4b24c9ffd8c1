import { canonicalDigest } from '../../../core/index.js';
import type { GitSource, JobContext, SolverOp } from '../../../solver/index.js';
import { fetchGit, gitCacheKey, resolveGitCommit } from '../../sources/index.js';
import { snapshotRef, type WorkerRef } from '../refs.js';
import { writeSnapshot } from '../views.js';
import type { OpContext } from './context.js';

interface Fetched {
  readonly snapshot: string;
  readonly commit: string;
}

/**
 * `ADD <git url>`: the checkout (or its subdir, or a repository with `.git`) as a
 * snapshot. The key is the commit the ref resolves to now (gitCacheKey: commit, subdir,
 * keepGitDir), from `git ls-remote` alone, as BuildKit's git CacheKey: an unchanged
 * branch is a hit after one round trip and no clone. Where ls-remote cannot tell the
 * commit (an abbreviated commit id), or tells one that a --checksum does not match (it
 * may name an annotated tag's object, which only a fetch can check), cacheMap fetches
 * into a snapshot and keys on the fetched commit; exec then reuses that snapshot, and a
 * failed checksum fails the build even when an older result for the ref is cached.
 */
export function gitSourceOp(source: GitSource, context: OpContext): SolverOp<WorkerRef> {
  let fetched: Promise<Fetched> | undefined;
  const fetchOnce = (job: JobContext): Promise<Fetched> => {
    fetched ??= fetchToSnapshot(source, context, job);
    return fetched;
  };
  return {
    async cacheMap(job) {
      let commit = await resolveGitCommit(source, { signal: job.signal, logger: job.logger });
      const checksum = source.checksum?.toLowerCase();
      if (commit === undefined || (checksum !== undefined && !commit.startsWith(checksum))) {
        commit = (await fetchOnce(job)).commit;
      }
      return {
        digest: canonicalDigest({
          encoding: 'tbuild.op.v1',
          kind: 'git',
          key: gitCacheKey(source, commit),
        }),
        inputs: [],
        cacheable: true,
      };
    },
    async exec(_inputs, job) {
      return snapshotRef((await fetchOnce(job)).snapshot);
    },
  };
}

async function fetchToSnapshot(
  source: GitSource,
  context: OpContext,
  job: JobContext,
): Promise<Fetched> {
  let commit = '';
  const snapshot = await writeSnapshot(
    context.store,
    undefined,
    { signal: job.signal, direct: true },
    async (dir) => {
      ({ commit } = await fetchGit(source, {
        destDir: dir,
        signal: job.signal,
        logger: job.logger,
      }));
    },
  );
  return { snapshot, commit };
}
