/**
 * frontend/shell: Dockerfile word expansion, identical to Docker's
 * (BuildKit frontend/dockerfile/shell). Pure functions over a variable lookup.
 */
import { wellFormedText } from '../../core/index.js';
import { WordLexer, type VariableLookup } from './lexer.js';

export type { VariableLookup } from './lexer.js';

export interface ExpandOptions {
  readonly escape: '\\' | '`';
}

/** One word: variables substituted, quotes and escapes removed, no word splitting (ENV/LABEL values, WORKDIR, USER, COPY paths, flags). */
export function expandWord(word: string, lookup: VariableLookup, options: ExpandOptions): string {
  return new WordLexer(asScanned(word), lookup, options.escape).run().text;
}

/** With word splitting on unquoted whitespace, as Docker's ProcessWords (EXPOSE, VOLUME shell form, ARG/ENV key lists, etc.). */
export function expandWords(
  text: string,
  lookup: VariableLookup,
  options: ExpandOptions,
): string[] {
  return new WordLexer(asScanned(text), lookup, options.escape).run().words;
}

/**
 * The word as BuildKit's lexer reads it: Go's text/scanner yields U+FFFD for each
 * byte that is not UTF-8, so an expanded word never carries the raw bytes a
 * Dockerfile line may hold (core/raw-text.ts); only text passed on unexpanded (a
 * RUN's shell form, a quoted heredoc) keeps them.
 */
function asScanned(word: string): string {
  return wellFormedText(word);
}
