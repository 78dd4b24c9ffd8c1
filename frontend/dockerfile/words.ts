/**
 * The small lexers of Docker's Dockerfile parser, reproduced rule for rule
 * (BuildKit frontend/dockerfile/parser: split_command.go, line_parsers.go)
 * because real Dockerfiles depend on their quirks: which quotes survive, where
 * an escape is kept, what counts as whitespace.
 */
import { wellFormedText } from '../../core/index.js';

/** Go's unicode.IsSpace: the Unicode White_Space property. */
export function isSpace(ch: string | undefined): boolean {
  return ch !== undefined && /^\p{White_Space}$/u.test(ch);
}

/** Go's regexp `[\t\v\f\r ]+`, the separator of whitespace-delimited arguments. */
const ARGUMENT_WHITESPACE = /[\t\v\f\r ]+/;

/** Go's strings.TrimLeftFunc(s, unicode.IsSpace). */
export function trimLeftSpace(text: string): string {
  return text.replace(/^\p{White_Space}+/u, '');
}

/** Go's strings.TrimSpace. */
export function trimSpace(text: string): string {
  return text.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
}

/** Splits `rest` on runs of spaces and tabs (not newlines), as parseStringsWhitespaceDelimited. */
export function splitWhitespace(rest: string): string[] {
  if (rest === '') return [];
  return rest.split(ARGUMENT_WHITESPACE);
}

/** Splits on the first whitespace run only (Go's Regexp.Split(s, 2)). */
export function splitOnce(text: string): [string, string | undefined] {
  const match = ARGUMENT_WHITESPACE.exec(text);
  if (match === null) return [text, undefined];
  return [text.slice(0, match.index), text.slice(match.index + match[0].length)];
}

export interface SplitCommand {
  /** The instruction name as written. */
  readonly name: string;
  /** `--flag[=value]` words before the arguments, quotes and backslashes resolved. */
  readonly flags: readonly string[];
  /** The arguments after the flags, trimmed. */
  readonly rest: string;
}

/** splitCommand: name, builder flags, and the rest of a logical line. */
export function splitCommand(line: string): SplitCommand {
  const [name, args] = splitOnce(trimSpace(line));
  if (args === undefined) return { name, flags: [], rest: '' };
  const { flags, rest } = extractBuilderFlags(args);
  return { name, flags, rest: trimSpace(rest) };
}

/**
 * Reads the leading `--flag` words. Inside them quotes are removed and a
 * backslash (always backslash, whatever the escape directive) takes the next
 * character literally. A bare `--` ends the flags.
 */
export function extractBuilderFlags(line: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  const chars = Array.from(line);
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOk = false;
  const restFrom = (index: number): string => chars.slice(index).join('');
  for (let pos = 0; pos <= chars.length; pos++) {
    const atEnd = pos === chars.length;
    let ch = chars[pos] ?? '';
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isSpace(ch)) continue;
      if (ch !== '-' || chars[pos + 1] !== '-') return { flags, rest: restFrom(pos) };
      phase = 'word';
    }
    if (atEnd) {
      if (word !== '--' && (blankOk || word !== '')) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return { flags, rest: restFrom(pos) };
        if (blankOk || word !== '') flags.push(word);
        word = '';
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === chars.length) continue;
        pos++;
        ch = chars[pos] ?? '';
      }
      word += ch;
      continue;
    }
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      pos++;
      ch = chars[pos] ?? '';
    }
    word += ch;
  }
  return { flags, rest: '' };
}

/**
 * parseWords: whitespace-separated words where quotes group but are *kept*
 * (they are removed later, during expansion) and the escape character keeps
 * itself plus the next character. Used by ENV, LABEL and ARG.
 */
export function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOk = false;
  let word = '';
  for (let pos = 0; pos <= chars.length; pos++) {
    const atEnd = pos === chars.length;
    let ch = chars[pos] ?? '';
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isSpace(ch)) continue;
      phase = 'word';
    }
    if (atEnd) {
      if (blankOk || word !== '') words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (blankOk || word !== '') words.push(word);
        word = '';
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        pos++;
        ch = chars[pos] ?? '';
      }
      word += ch;
      continue;
    }
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      pos++;
      word += ch;
      ch = chars[pos] ?? '';
    }
    word += ch;
  }
  return words;
}

export type JsonArrayResult =
  | { readonly kind: 'array'; readonly values: readonly string[] }
  | { readonly kind: 'not-json' }
  | { readonly kind: 'not-strings' };

/**
 * parseJSON: the exec form. Anything that is not a valid JSON array falls back
 * to the shell form; an array of non-strings is an error (`not-strings`).
 */
export function parseJsonArray(rest: string): JsonArrayResult {
  const text = trimLeftSpace(rest);
  if (!text.startsWith('[')) return { kind: 'not-json' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'not-json' };
  }
  if (!Array.isArray(value)) return { kind: 'not-json' };
  const values: string[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== 'string') return { kind: 'not-strings' };
    // Go's encoding/json, which BuildKit parses this with, makes bytes that are not
    // UTF-8 (core/raw-text.ts) and lone \uDCxx escapes U+FFFD.
    values.push(wellFormedText(item));
  }
  return { kind: 'array', values };
}
