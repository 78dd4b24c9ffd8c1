/**
 * Shell patterns of `${V#p}`, `${V%p}` and `${V/p/r}`, matched the way
 * BuildKit does it: the pattern becomes a Go regular expression (`*` any run,
 * `?` one character, `\` escapes only `*`, `?` and `\`; no bracket
 * expressions), and Go's regexp semantics decide the match. JavaScript's
 * RegExp with the `u` flag is leftmost-first like Go's; the differences that
 * matter (`.` and line terminators, empty matches in replace-all, `$` in the
 * replacement) are reproduced here explicitly.
 */

import { TbuildError } from '../../core/index.js';

// Go's `.` matches any character but `\n`; JavaScript's also refuses \r, \u2028, \u2029.
const ANY = '[^\\n]';
const REGEX_SPECIAL = new Set(['[', ']', '{', '}', '.', '+', '(', ')', '|', '^', '$']);

/** Converts a shell pattern (already expanded, escapes kept raw) to a regex source. */
function patternSource(pattern: string, greedy: boolean): string {
  const chars = Array.from(pattern);
  const star = greedy ? `${ANY}*` : `${ANY}*?`;
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] ?? '';
    if (ch === '*') {
      out += star;
    } else if (ch === '?') {
      out += ANY;
    } else if (ch === '\\') {
      const next = chars[i + 1];
      // `\}` and `\/` only protect the delimiters of `${...}`; the escape is not part of the pattern.
      if (next === '}' || next === '/') continue;
      if (next !== '*' && next !== '?' && next !== '\\') {
        // The caller (lexer) wraps this message with the pattern and the word.
        throw new TbuildError(
          'TB_DOCKERFILE_EXPANSION',
          next === undefined ? 'invalid escape at the end' : `invalid escape '\\${next}'`,
        );
      }
      out += `\\${next}`;
      i++;
    } else if (REGEX_SPECIAL.has(ch)) {
      out += `\\${ch}`;
    } else {
      out += escapeLiteral(ch);
    }
  }
  return out;
}

/** Escapes a character that is literal in the pattern but may be special to RegExp. */
function escapeLiteral(ch: string): string {
  return /^[\p{L}\p{N}_ ]$/u.test(ch) ? ch : `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`;
}

function anchoredRegex(pattern: string, greedy: boolean): RegExp {
  return new RegExp(`^(?:${patternSource(pattern, greedy)})`, 'u');
}

/** `${V#p}` / `${V##p}`: removes the shortest (longest when greedy) matching prefix. */
export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const match = anchoredRegex(pattern, greedy).exec(value);
  return match === null ? value : value.slice(match[0].length);
}

/**
 * `${V%p}` / `${V%%p}`: regexes find leftmost matches only, so (as BuildKit does)
 * both the value and the pattern are reversed and the prefix is trimmed instead.
 */
export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

function reverse(text: string): string {
  return Array.from(text).reverse().join('');
}

/** Reverses a pattern but keeps each `\x` escape pair in order (`a\*c` → `c\*a`). */
export function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const units: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] ?? '';
    if (ch === '\\' && i !== chars.length - 1) {
      units.push(ch + (chars[i + 1] ?? ''));
      i++;
    } else {
      units.push(ch);
    }
  }
  return units.reverse().join('');
}

/** `${V/p/r}` (first match) and `${V//p/r}` (every match), with Go's regexp semantics. */
export function replacePattern(
  pattern: string,
  value: string,
  replacement: string,
  all: boolean,
): string {
  const re = new RegExp(patternSource(pattern, true), 'gu');
  if (!all) {
    // BuildKit splices the replacement in literally for a single replacement.
    const match = re.exec(value);
    if (match === null) return value;
    return value.slice(0, match.index) + replacement + value.slice(match.index + match[0].length);
  }
  return goReplaceAll(re, value, replacement);
}

/**
 * Go's Regexp.ReplaceAllString: successive non-overlapping matches, an empty
 * match right after a previous match is not replaced, and the replacement is
 * a template where `$0`/`${0}` is the match, `$$` a dollar, other names empty.
 */
function goReplaceAll(re: RegExp, src: string, template: string): string {
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    re.lastIndex = searchPos;
    const match = re.exec(src);
    if (match === null) break;
    const start = match.index;
    const end = start + match[0].length;
    out += src.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += expandTemplate(template, match[0]);
    lastMatchEnd = end;
    const width = searchPos < src.length ? ((src.codePointAt(searchPos) ?? 0) > 0xffff ? 2 : 1) : 0;
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + src.slice(lastMatchEnd);
}

function expandTemplate(template: string, whole: string): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf('$', i);
    if (dollar < 0) break;
    out += template.slice(i, dollar);
    i = dollar + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    const ref = /^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/u.exec(template.slice(i));
    if (ref === null) {
      out += '$';
      continue;
    }
    i += ref[0].length;
    // The pattern has no groups: only group 0 (the whole match) can be named.
    if ((ref[1] ?? ref[2]) === '0') out += whole;
  }
  return out + template.slice(i);
}
