/**
 * The few Go standard-library behaviours .dockerignore depends on, exactly:
 * strings.TrimSpace (Unicode White_Space, which is not JavaScript's trim set),
 * path/filepath.Clean on Unix, and the syntax check of filepath.Match.
 */

const EDGE_SPACE = /^\p{White_Space}+|\p{White_Space}+$/gu;

/** Go's strings.TrimSpace. */
export function goTrimSpace(text: string): string {
  return text.replace(EDGE_SPACE, '');
}

/** Go's filepath.Clean on a '/'-separated system. */
export function goClean(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/**
 * Whether filepath.Match would report ErrBadPattern for this pattern. Go checks
 * every chunk (text between unbracketed stars): a trailing `\`, an unclosed
 * or empty `[...]`, a range with a missing end, or `-`/`]` where a character
 * is needed are errors.
 */
export function goMatchSyntaxError(pattern: string): boolean {
  for (const chunk of chunks(pattern)) {
    if (!chunkIsValid(Array.from(chunk))) return true;
  }
  return false;
}

function chunks(pattern: string): string[] {
  const out: string[] = [];
  let rest = pattern;
  while (rest.length > 0) {
    rest = rest.replace(/^\*+/, '');
    let inRange = false;
    let i = 0;
    for (; i < rest.length; i++) {
      const ch = rest[i];
      if (ch === '\\') {
        if (i + 1 < rest.length) i++;
      } else if (ch === '[') {
        inRange = true;
      } else if (ch === ']') {
        inRange = false;
      } else if (ch === '*' && !inRange) {
        break;
      }
    }
    out.push(rest.slice(0, i));
    rest = rest.slice(i);
  }
  return out;
}

function chunkIsValid(chars: string[]): boolean {
  let i = 0;
  // One character of a class, possibly escaped; returns the index after it or -1.
  const classChar = (at: number): number => {
    let j = at;
    const ch = chars[j];
    if (ch === undefined || ch === '-' || ch === ']') return -1;
    if (ch === '\\') {
      j++;
      if (chars[j] === undefined) return -1;
    }
    j++;
    // Go requires more pattern after a class character (at least the closing bracket).
    return j >= chars.length ? -1 : j;
  };
  while (i < chars.length) {
    const ch = chars[i];
    if (ch === '[') {
      i++;
      if (chars[i] === '^') i++;
      let ranges = 0;
      for (;;) {
        if (chars[i] === ']' && ranges > 0) {
          i++;
          break;
        }
        const afterLo = classChar(i);
        if (afterLo < 0) return false;
        i = afterLo;
        if (chars[i] === '-') {
          const afterHi = classChar(i + 1);
          if (afterHi < 0) return false;
          i = afterHi;
        }
        ranges++;
      }
    } else if (ch === '\\') {
      if (i + 1 >= chars.length) return false;
      i += 2;
    } else {
      i++;
    }
  }
  return true;
}
