/**
 * Translates the small subset of Go (RE2) regular-expression syntax that
 * moby/patternmatcher generates into an equivalent JavaScript RegExp. The
 * pattern's `[`, `]`, `^` and `\x` reach the regexp untouched, so Go's parse
 * rules decide what they mean (`[]a]` is a class holding `]` and `a`, a lone
 * `]` is a literal, `\d` is a digit class, `.` does not match `\n`); this
 * parser reproduces those rules and rejects what Go's regexp.Compile rejects.
 */

import { TbuildError } from '../../core/index.js';

/** What Go's regexp.Compile would reject; callers add the file, line and pattern. */
function regexpError(reason: string): TbuildError {
  return new TbuildError('TB_DOCKERIGNORE', reason);
}

const PERL_CLASSES: Readonly<Record<string, string>> = {
  d: '0-9',
  s: '\\t\\n\\f\\r ',
  w: '0-9A-Za-z_',
};
const CONTROL: Readonly<Record<string, number>> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
const POSIX: Readonly<Record<string, string>> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\u{0}-\\u{7f}',
  blank: '\\t ',
  cntrl: '\\u{0}-\\u{1f}\\u{7f}',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

function lit(ch: string): string {
  return /^[\p{L}\p{N}_]$/u.test(ch) ? ch : `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`;
}

function isPunct(ch: string): boolean {
  return /^[!-/:-@[-`{-~]$/.test(ch);
}

export function goRegexpToJs(source: string): RegExp {
  const chars = Array.from(source);
  let i = 0;
  let out = '';

  /** An escape after `\`: returns [js text, is it a single character (for ranges)]. */
  const escape = (inClass: boolean): { js: string; single: string | undefined } => {
    const ch = chars[i++];
    if (ch === undefined) throw regexpError('trailing backslash at end of expression');
    if (isPunct(ch)) return { js: lit(ch), single: ch };
    const control = CONTROL[ch];
    if (control !== undefined) {
      const c = String.fromCodePoint(control);
      return { js: lit(c), single: c };
    }
    const lower = ch.toLowerCase();
    const perl = PERL_CLASSES[lower];
    if (perl !== undefined) {
      const negated = ch !== lower;
      if (inClass && negated) throw regexpError(`negated class \\${ch} inside []`);
      return { js: inClass ? perl : `[${negated ? '^' : ''}${perl}]`, single: undefined };
    }
    if (!inClass && (ch === 'A' || ch === 'z'))
      return { js: ch === 'A' ? '^' : '$', single: undefined };
    if (!inClass && (ch === 'b' || ch === 'B')) return { js: `\\${ch}`, single: undefined };
    throw regexpError(`invalid escape sequence: \\${ch}`);
  };

  const parseClass = (): string => {
    // `[` already consumed
    let js = '[';
    if (chars[i] === '^') {
      js += '^';
      i++;
    }
    let first = true;
    for (;;) {
      const ch = chars[i];
      if (ch === undefined) throw regexpError('missing closing ]');
      if (ch === ']' && !first) {
        i++;
        return `${js}]`;
      }
      first = false;
      if (ch === '[' && chars[i + 1] === ':') {
        const end = chars.indexOf(':', i + 2);
        if (end > 0 && chars[end + 1] === ']') {
          let name = chars.slice(i + 2, end).join('');
          const negated = name.startsWith('^');
          if (negated) name = name.slice(1);
          const set = POSIX[name];
          if (set === undefined || negated) throw regexpError(`invalid character class range`);
          js += set;
          i = end + 2;
          continue;
        }
      }
      let lo: string | undefined;
      if (ch === '\\') {
        i++;
        const e = escape(true);
        if (e.single === undefined) {
          js += e.js;
          continue;
        }
        lo = e.single;
      } else {
        lo = ch;
        i++;
      }
      if (chars[i] === '-' && chars[i + 1] !== ']' && chars[i + 1] !== undefined) {
        i++;
        let hi = chars[i++] ?? '';
        if (hi === '\\') {
          const e = escape(true);
          if (e.single === undefined) throw regexpError('invalid character class range');
          hi = e.single;
        }
        if ((hi.codePointAt(0) ?? 0) < (lo.codePointAt(0) ?? 0)) {
          throw regexpError(`invalid character class range: ${lo}-${hi}`);
        }
        js += `${lit(lo)}-${lit(hi)}`;
      } else {
        js += lit(lo);
      }
    }
  };

  while (i < chars.length) {
    const ch = chars[i++] ?? '';
    switch (ch) {
      case '\\':
        out += escape(false).js;
        break;
      case '[':
        out += parseClass();
        break;
      case '.':
        out += '[^\\n]';
        break;
      case '(':
        out += '(?:';
        break;
      case ')':
      case '^':
      case '$':
      case '*':
      case '?':
        out += ch;
        break;
      default:
        out += lit(ch);
    }
  }
  try {
    return new RegExp(out, 'u');
  } catch {
    throw regexpError('invalid regular expression');
  }
}
