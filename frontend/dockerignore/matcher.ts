/**
 * Exclusion decisions as BuildKit's context sender (tonistiigi/fsutil) makes
 * them: patternmatcher's MatchesUsingParentResults applied down the directory
 * chain (a pattern that matched a directory counts as matching everything
 * under it), the last matching rule wins, and fsutil's rule for when an
 * excluded directory may be skipped without being read.
 */
import { TbuildError, isTbuildError } from '../../core/index.js';
import type { IgnoreRule } from './parse.js';
import { compilePattern, type PatternTest } from './pattern.js';

export interface IgnoreMatcher {
  /** true when the context-relative path (forward slashes, no leading "./") is excluded */
  excludes(path: string): boolean;
  /** whether a directory could contain non-excluded files (so a walker knows it must descend) */
  mayContainIncluded(dir: string): boolean;
}

interface CompiledRule {
  readonly rule: IgnoreRule;
  readonly test: PatternTest;
}

/** Per-pattern "matched" flags of a path, inherited by its children. */
type MatchInfo = readonly boolean[];

// fsutil's patternChars on Unix: a negation containing one of these may match at any depth.
const PATTERN_CHARS = /[*[\]?^\\]/;

function withoutTrailingGlob(pattern: string): string {
  let p = pattern;
  if (p.endsWith('/**')) p = p.slice(0, -3);
  if (p.endsWith('/*')) p = p.slice(0, -2);
  return p;
}

function normalise(path: string): string {
  let p = path.replace(/\/+$/, '');
  while (p.startsWith('./')) p = p.slice(2);
  return p;
}

export function createIgnoreMatcher(rules: readonly IgnoreRule[]): IgnoreMatcher {
  const compiled: CompiledRule[] = rules.map((rule) => {
    try {
      return { rule, test: compilePattern(rule.pattern) };
    } catch (error) {
      if (isTbuildError(error, 'TB_DOCKERIGNORE')) {
        throw new TbuildError(
          'TB_DOCKERIGNORE',
          `line ${String(rule.line)}: invalid pattern ${JSON.stringify(rule.pattern)}: ${error.message}`,
          { details: { line: rule.line, pattern: rule.pattern } },
        );
      }
      throw error;
    }
  });
  const hasNegations = rules.some((r) => r.negate);
  const onlyPrefixNegations = !rules.some(
    (r) => r.negate && PATTERN_CHARS.test(withoutTrailingGlob(r.pattern)),
  );
  const cache = new Map<string, { excluded: boolean; info: MatchInfo }>();

  /** patternmatcher.MatchesUsingParentResults for one path given its parent's flags. */
  const matchOne = (path: string, parent: MatchInfo | undefined) => {
    let excluded = false;
    const info: boolean[] = [];
    compiled.forEach(({ rule, test }, i) => {
      let match = parent?.[i] ?? false;
      if (!match) {
        // An include cannot change an excluded result and vice versa: skip the test.
        if (rule.negate !== excluded) {
          info.push(false);
          return;
        }
        match = test(path);
      }
      info.push(match);
      if (match) excluded = !rule.negate;
    });
    return { excluded, info };
  };

  // Only directories (the parents of asked paths) are cached, so memory follows the tree's dirs.
  const evaluate = (path: string, isParent: boolean): { excluded: boolean; info: MatchInfo } => {
    const known = cache.get(path);
    if (known !== undefined) return known;
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? undefined : evaluate(path.slice(0, slash), true).info;
    const result = matchOne(path, parent);
    if (isParent) cache.set(path, result);
    return result;
  };

  const excludes = (path: string): boolean => {
    const p = normalise(path);
    if (p === '' || p === '.' || compiled.length === 0) return false;
    return evaluate(p, false).excluded;
  };

  return {
    excludes,
    mayContainIncluded(dir: string): boolean {
      const d = normalise(dir);
      if (!excludes(d)) return true;
      if (!onlyPrefixNegations) return true;
      if (!hasNegations) return false;
      const dirSlash = `${d}/`;
      return rules.some(
        (r) => r.negate && `${withoutTrailingGlob(r.pattern)}/`.startsWith(dirSlash),
      );
    },
  };
}
