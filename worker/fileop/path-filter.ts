import { readdirSync } from 'node:fs';

/**
 * What a walk over a copy source or a context leaves out (.dockerignore,
 * `COPY --exclude`). An excluded directory is not the end of the walk: a later
 * exception (`!drop/important.txt` after `drop`) keeps what it names, and the
 * directories above it with it. tonistiigi/fsutil does the same both where
 * BuildKit sends the context (filter.go: excluded directories are walked and
 * emitted only when something inside them is) and in its copy (copy/copy.go:
 * createParentDirs makes an excluded directory once a kept entry needs it).
 */
export interface PathFilter {
  /** True when the path (relative, slash-separated, no leading `./`) is left out. */
  readonly excludes: (path: string) => boolean;
  /** Whether an excluded directory may still hold kept paths, so it must be walked. */
  readonly mayKeepInside: (dir: string) => boolean;
}

/** A pattern character of fsutil's (patternChars): a negation holding one may match at any depth. */
const PATTERN_CHARS = /[*[\]?^\\]/;

/**
 * The filter for `patterns` (written as in .dockerignore, `!` for an exception)
 * whose matching is `excludes` (the frontend's rules, injected). Whether an
 * excluded directory must be walked is fsutil's filter.go rule: never without
 * exceptions; always when one has a pattern character; otherwise when an
 * exception names a path inside the directory.
 */
export function pathFilter(
  patterns: readonly string[],
  excludes: (path: string) => boolean,
): PathFilter {
  const exceptions = patterns
    .filter((pattern) => pattern.trim().startsWith('!'))
    .map((pattern) => literalPrefix(pattern.trim().slice(1).trim()));
  const anyDepth = exceptions.some((prefix) => prefix === undefined);
  return {
    excludes,
    mayKeepInside: (dir) => {
      if (exceptions.length === 0) return false;
      if (anyDepth) return true;
      const inside = `${dir}/`;
      return exceptions.some((prefix) => `${prefix ?? ''}/`.startsWith(inside));
    },
  };
}

/**
 * The exception without a trailing `/**` or `/*` and without leading `/` or
 * `./`; undefined when it could match at any depth (a pattern character, or a
 * `..`/`.` component this check does not clean).
 */
function literalPrefix(pattern: string): string | undefined {
  let prefix = pattern;
  if (prefix.endsWith('/**')) prefix = prefix.slice(0, -3);
  if (prefix.endsWith('/*')) prefix = prefix.slice(0, -2);
  prefix = prefix.replace(/^(\.?\/)+/, '').replace(/\/+$/, '');
  if (PATTERN_CHARS.test(prefix)) return undefined;
  if (prefix.split('/').some((part) => part === '' || part === '.' || part === '..'))
    return undefined;
  return prefix;
}

/**
 * Whether a walk of the excluded directory `dir` (host path; `relative` is
 * its filtered path) would keep anything: a kept entry, or a directory that
 * keeps one. For a copy source named on its own, which fsutil would not have
 * sent when nothing in it is kept (so the copy finds nothing).
 */
export function keepsAnything(dir: string, relative: string, filter: PathFilter): boolean {
  if (!filter.mayKeepInside(relative)) return false;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (!filter.excludes(path)) return true;
    if (entry.isDirectory() && keepsAnything(`${dir}/${entry.name}`, path, filter)) return true;
  }
  return false;
}
