/**
 * The cache key of a git source, after BuildKit's shaToCacheKey: the commit, plus
 * whether `.git` is kept and which subdirectory is taken, since both change the result.
 * The remote is not in it: the same commit from a mirror is the same tree.
 */
import { canonicalDigest, type Digest } from '../../core/index.js';
import type { GitSource } from '../../solver/index.js';
import { normalizeSubdir } from './git-ref.js';

export const GIT_CACHE_KEY_ENCODING = 'tbuild.git-source.v1';

export function gitCacheKey(source: GitSource, commit: string): Digest {
  const subdir = normalizeSubdir(source.subdir).join('/');
  return canonicalDigest({
    type: GIT_CACHE_KEY_ENCODING,
    commit,
    // BuildKit keeps .git only for the whole tree.
    keepGitDir: source.keepGitDir && subdir === '',
    subdir,
  });
}
