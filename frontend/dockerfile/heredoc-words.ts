import { isSpace } from './words.js';

/**
 * Recognising heredoc openers (`<<EOF`, `<<-EOF`, `2<<"EOF"`) in a logical
 * line, as BuildKit's heredocsFromLine/ParseHeredoc do: the line is split into
 * shell words keeping quotes, escapes and `$…` as written, and each word that
 * matches `^(\d*)<<(-?)([^<]*)$` opens a heredoc. The delimiter is the word
 * with quotes removed; if removing quotes changed it, the body is not expanded.
 */
export interface HeredocOpener {
  readonly name: string;
  readonly expand: boolean;
  readonly chomp: boolean;
}

const HEREDOC_WORD = /^(\d*)<<(-?)([^<]*)$/;

/** Internal: a quote without its pair; never escapes this file. */
class UnbalancedQuote extends Error {}

export function heredocsFromLine(line: string): HeredocOpener[] {
  let words: string[];
  try {
    words = lexWords(line, true);
  } catch (error) {
    // BuildKit ignores a line it cannot lex (an unbalanced quote): no heredocs.
    if (error instanceof UnbalancedQuote) return [];
    throw error;
  }
  const openers: HeredocOpener[] = [];
  for (const word of words) {
    const opener = parseHeredocWord(word);
    if (opener !== undefined) openers.push(opener);
  }
  return openers;
}

/** The heredoc a word opens, if any (BuildKit's ParseHeredoc). */
export function parseHeredocWord(word: string): HeredocOpener | undefined {
  const match = HEREDOC_WORD.exec(word);
  if (match === null) return undefined;
  const chomp = match[2] === '-';
  const rest = match[3] ?? '';
  if (rest === '') return undefined;
  let unquoted: string[];
  let raw: string[];
  try {
    unquoted = lexWords(rest, false);
    raw = lexWords(rest, true);
  } catch (error) {
    // MustParseHeredoc: a delimiter that cannot be lexed opens no heredoc.
    if (error instanceof UnbalancedQuote) return undefined;
    throw error;
  }
  if (unquoted.length !== 1) return undefined;
  const name = unquoted[0] ?? '';
  const rawWord = raw[0] ?? '';
  const expand = countQuotes(name) === countQuotes(rawWord);
  return { name, expand, chomp };
}

function countQuotes(text: string): number {
  let count = 0;
  for (const ch of text) if (ch === '"' || ch === "'") count++;
  return count;
}

/**
 * A shell word splitter with backslash escapes. With `raw` it keeps quotes and
 * escapes (RawQuotes+RawEscapes); without, it removes them as the shell would.
 * `$name` and `${…}` are kept as written (BuildKit lexes with unset variables
 * skipped). An unbalanced quote throws UnbalancedQuote.
 */
function lexWords(text: string, raw: boolean): string[] {
  const chars = Array.from(text);
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let pos = 0; pos < chars.length; pos++) {
    const ch = chars[pos] ?? '';
    if (isSpace(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === '\\') {
      const next = chars[pos + 1];
      if (next === undefined) {
        if (raw) word += ch;
        continue;
      }
      word += raw ? ch + next : next;
      pos++;
      continue;
    }
    if (ch === "'") {
      const end = chars.indexOf("'", pos + 1);
      if (end < 0) throw new UnbalancedQuote();
      const body = chars.slice(pos + 1, end).join('');
      word += raw ? `'${body}'` : body;
      pos = end;
      continue;
    }
    if (ch === '"') {
      let body = '';
      let end = -1;
      for (let inner = pos + 1; inner < chars.length; inner++) {
        const c = chars[inner] ?? '';
        if (c === '"') {
          end = inner;
          break;
        }
        const next = chars[inner + 1];
        if (c === '\\' && next !== undefined && (next === '"' || next === '$' || next === '\\')) {
          body += raw ? c + next : next;
          inner++;
          continue;
        }
        body += c;
      }
      if (end < 0) throw new UnbalancedQuote();
      word += raw ? `"${body}"` : body;
      pos = end;
      continue;
    }
    if (ch === '$' && chars[pos + 1] === '{') {
      const end = chars.indexOf('}', pos + 2);
      const stop = end < 0 ? chars.length - 1 : end;
      word += chars.slice(pos, stop + 1).join('');
      pos = stop;
      continue;
    }
    word += ch;
  }
  if (inWord) words.push(word);
  return words;
}
