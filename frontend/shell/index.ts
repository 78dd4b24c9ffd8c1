/**
 * frontend/shell: Dockerfile word expansion, identical to Docker's
 * (BuildKit frontend/dockerfile/shell). Pure functions over a variable lookup.
 */
import { WordLexer, type VariableLookup } from './lexer.js';

export type { VariableLookup } from './lexer.js';

export interface ExpandOptions {
  readonly escape: '\\' | '`';
}

/** One word: variables substituted, quotes and escapes removed, no word splitting (ENV/LABEL values, WORKDIR, USER, COPY paths, flags). */
export function expandWord(word: string, lookup: VariableLookup, options: ExpandOptions): string {
  return new WordLexer(word, lookup, options.escape).run().text;
}

/** With word splitting on unquoted whitespace, as Docker's ProcessWords (EXPOSE, VOLUME shell form, ARG/ENV key lists, etc.). */
export function expandWords(
  text: string,
  lookup: VariableLookup,
  options: ExpandOptions,
): string[] {
  return new WordLexer(text, lookup, options.escape).run().words;
}
