/**
 * One .dockerignore pattern compiled as moby/patternmatcher compiles it: an
 * exact string, a prefix (`dir/**`), a suffix (`**` + literal rest), or a
 * regexp where `*` and `?` never cross `/`, `**` spans any directories, and
 * `[...]`, `^` and `\x` keep their Go regexp meaning.
 */
import { goRegexpToJs } from './go-regexp.js';

export type PatternTest = (path: string) => boolean;

// Characters patternmatcher escapes because they mean nothing in filepath.Match.
const ESCAPED = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

/** Compiles a cleaned pattern (no leading "!"); throws TB_DOCKERIGNORE when Go's regexp would reject it. */
export function compilePattern(pattern: string): PatternTest {
  const chars = Array.from(pattern);
  let source = '^';
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  let pos = 0;
  for (let i = 0; pos < chars.length; i++) {
    const ch = chars[pos++] ?? '';
    if (ch === '*') {
      if (chars[pos] === '*') {
        pos++;
        // `**/` is treated as `**`.
        if (chars[pos] === '/') pos++;
        if (pos >= chars.length) {
          // A trailing `**` accepts everything, as in .gitignore.
          if (type === 'exact') {
            type = 'prefix';
          } else {
            source += '.*';
            type = 'regexp';
          }
        } else {
          source += '(.*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        source += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      source += '[^/]';
      type = 'regexp';
    } else if (ESCAPED.has(ch)) {
      source += `\\${ch}`;
    } else if (ch === '\\') {
      const next = chars[pos];
      if (next !== undefined) {
        source += `\\${next}`;
        pos++;
        type = 'regexp';
      } else {
        source += '\\\\';
      }
    } else if (ch === '[' || ch === ']') {
      source += ch;
      type = 'regexp';
    } else {
      source += ch;
    }
  }

  switch (type) {
    case 'exact':
      return (path) => path === pattern;
    case 'prefix': {
      const prefix = pattern.slice(0, -2);
      return (path) => path.startsWith(prefix);
    }
    case 'suffix': {
      const suffix = pattern.slice(2);
      // `**/foo` also matches `foo` itself.
      return (path) =>
        path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
    }
    case 'regexp': {
      const re = goRegexpToJs(`${source}$`);
      return (path) => re.test(path);
    }
  }
}
