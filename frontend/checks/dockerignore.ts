import { createIgnoreMatcher, parseDockerignore } from '../dockerignore/index.js';

const WHOLE_CONTEXT_PATTERNS = new Set(['*', '**', '**/*']);

/**
 * Which COPY/ADD sources .dockerignore leaves out, for CopyIgnoredFile; undefined
 * (no check) without patterns, or with an exclusion (`!…`), where a directory left
 * out may still have files put back (BuildKit's validateCopySourcePath).
 */
export function ignoredByDockerignore(
  patterns: readonly string[],
): ((path: string) => boolean) | undefined {
  let rules;
  try {
    rules = parseDockerignore(patterns.join('\n'), '.dockerignore');
  } catch {
    return undefined;
  }
  if (rules.length === 0 || rules.some((rule) => rule.negate)) return undefined;
  const matcher = createIgnoreMatcher(rules);
  const rootIgnored = rules.some((rule) => WHOLE_CONTEXT_PATTERNS.has(rule.pattern));
  return (path) => {
    if (path === '.' || path === '/') return rootIgnored;
    const relative = path.replace(/^\/+/, '');
    try {
      return matcher.excludes(relative);
    } catch {
      return false;
    }
  };
}
