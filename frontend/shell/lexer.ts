/**
 * Docker's word expansion (BuildKit frontend/dockerfile/shell/lex.go),
 * reimplemented: quotes, the escape character, `$V` / `${V…}` with every
 * modifier BuildKit knows, and word splitting. Behaviour follows the newest
 * BuildKit where it differs from older daemons (`${V-w}`, `${V#p}`, `${V/p/r}`
 * exist; `${}` is an error), except one thing: word splitting keeps one buffer
 * per nesting level, as Docker 20.10 does. The newest lex.go shares one buffer
 * across nested `${V:-…}` words, so `EXPOSE 79${Q:-9}85` would lose its "79";
 * that looks like an accident, and dockerd confirms the behaviour kept here.
 */
import { TbuildError, isTbuildError } from '../../core/index.js';
import { replacePattern, trimPrefix, trimSuffix } from './pattern.js';

export type VariableLookup = (name: string) => string | undefined;

const SPACE = /^\p{White_Space}$/u;
const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

/** Words being collected for ProcessWords: unquoted whitespace from text and variables splits. */
class WordCollector {
  readonly words: string[] = [];
  private current = '';
  private inWord = false;

  /** A character whose whitespace splits words (plain text, variable values). */
  addSplittable(ch: string): void {
    if (SPACE.test(ch)) {
      // An empty quoted string ("") marks inWord without making a word; Docker drops it.
      if (this.inWord && this.current !== '') {
        this.words.push(this.current);
        this.current = '';
        this.inWord = false;
      }
    } else {
      this.addRaw(ch);
    }
  }

  addSplittableString(text: string): void {
    for (const ch of text) this.addSplittable(ch);
  }

  /** Quoted or escaped text: kept whole. */
  addRaw(text: string): void {
    this.current += text;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.current !== '') {
      this.words.push(this.current);
      this.current = '';
      this.inWord = false;
    }
    return this.words;
  }
}

interface Processed {
  readonly text: string;
  readonly words: string[];
}

/** Far beyond any real Dockerfile, far below what overflows the stack from any caller. */
const MAX_NESTING = 200;

export class WordLexer {
  private readonly chars: string[];
  private pos = 0;
  /** Inside `${V#…}`, `${V%…}` and `${V/…/…}` escapes are kept for the pattern converter. */
  private rawEscapes = false;
  /** How many processUntil calls are open: `${a:-${b:-…}}` recurses once per level. */
  private depth = 0;

  private readonly word: string;
  private readonly lookup: VariableLookup;
  private readonly escape: string;

  constructor(word: string, lookup: VariableLookup, escape: string) {
    this.word = word;
    this.lookup = lookup;
    this.escape = escape;
    const chars = Array.from(word);
    // Go's text/scanner drops a byte order mark at the very start.
    if (chars[0] === '\uFEFF') chars.shift();
    this.chars = chars;
  }

  /** Docker's message shape: `failed to process "<word>": <reason>`. */
  private fail(reason: string): TbuildError {
    return new TbuildError(
      'TB_DOCKERFILE_EXPANSION',
      `failed to process ${JSON.stringify(this.word)}: ${reason}`,
      { details: { word: this.word, reason } },
    );
  }

  run(): Processed {
    return this.processUntil(undefined, false);
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private next(): string | undefined {
    const ch = this.chars[this.pos];
    if (ch !== undefined) this.pos++;
    return ch;
  }

  private atEnd(): boolean {
    return this.pos >= this.chars.length;
  }

  /** Processes text up to `stop` (consumed) or the end of the word when `stop` is undefined. */
  private processUntil(stop: string | undefined, rawEscapes: boolean): Processed {
    if (this.depth >= MAX_NESTING) {
      // BuildKit's lexer recurses as deep as Go's growable stacks allow; ours would
      // overflow the call stack (a RangeError) some thousands of levels down.
      throw this.fail(`substitutions nested more than ${String(MAX_NESTING)} deep`);
    }
    const savedRaw = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    this.depth++;
    try {
      return this.processUntilInner(stop);
    } finally {
      this.depth--;
      this.rawEscapes = savedRaw;
    }
  }

  private processUntilInner(stop: string | undefined): Processed {
    let text = '';
    const words = new WordCollector();
    while (!this.atEnd()) {
      const ch = this.peek() ?? '';
      if (stop !== undefined && ch === stop) {
        this.next();
        return { text, words: words.finish() };
      }
      if (ch === '$') {
        const value = this.processDollar();
        text += value;
        words.addSplittableString(value);
      } else if (ch === "'" || ch === '"') {
        const value = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
        text += value;
        words.addRaw(value);
      } else {
        this.next();
        if (ch === this.escape) {
          if (this.rawEscapes) {
            words.addRaw(ch);
            text += ch;
          }
          const escaped = this.next();
          // A trailing escape character is dropped.
          if (escaped === undefined) break;
          words.addRaw(escaped);
          text += escaped;
        } else {
          words.addSplittable(ch);
          text += ch;
        }
      }
    }
    if (stop !== undefined) {
      throw this.fail(`unexpected end of statement while looking for matching ${stop}`);
    }
    return { text, words: words.finish() };
  }

  /** Everything up to the next `'` is literal; there is no escape inside single quotes. */
  private processSingleQuote(): string {
    this.next();
    let text = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) {
        throw this.fail('unexpected end of statement while looking for matching single-quote');
      }
      if (ch === "'") return text;
      text += ch;
    }
  }

  /** `$` expands inside double quotes; the escape character escapes only `"`, `$` and itself. */
  private processDoubleQuote(): string {
    this.next();
    let text = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) {
        throw this.fail('unexpected end of statement while looking for matching double-quote');
      }
      if (ch === '"') {
        this.next();
        return text;
      }
      if (ch === '$') {
        text += this.processDollar();
        continue;
      }
      this.next();
      if (ch === this.escape) {
        if (this.rawEscapes) text += ch;
        const following = this.peek();
        if (following === undefined) continue;
        if (following === '"' || following === '$' || following === this.escape) {
          text += following;
          this.next();
          continue;
        }
      }
      text += ch;
    }
  }

  private getEnv(name: string): { value: string; set: boolean } {
    const value = this.lookup(name);
    return value === undefined ? { value: '', set: false } : { value, set: true };
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      return name === '' ? '$' : this.getEnv(name).value;
    }
    this.next();
    const first = this.peek();
    if (first === undefined) throw this.fail("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') {
      throw this.fail('syntax error: bad substitution');
    }
    const name = this.processName();
    let modifier = this.next();
    if (modifier === undefined) throw this.fail("syntax error: missing '}'");
    if (modifier === '}') return this.getEnv(name).value;
    if (modifier === '/') return this.processReplace(name);

    let shown = modifier;
    const nullIsUnset = modifier === ':';
    if (nullIsUnset) {
      modifier = this.next();
      if (modifier === undefined) throw this.fail("syntax error: missing '}'");
      shown += modifier;
    } else if (!'+-?#%'.includes(modifier)) {
      throw this.fail(`unsupported modifier (${shown}) in substitution`);
    }
    const isPattern = modifier === '#' || modifier === '%';
    if (nullIsUnset && isPattern) {
      throw this.fail(`unsupported modifier (${shown}) in substitution`);
    }
    const word = this.processOperand('}', isPattern, "syntax error: missing '}'");
    const { value, set } = this.getEnv(name);
    const unset = !set || (nullIsUnset && value === '');
    switch (modifier) {
      case '-':
        return unset ? word : value;
      case '+':
        return unset ? '' : word;
      case '?':
        if (!set) throw this.fail(`${name}: ${word || 'is not allowed to be unset'}`);
        if (unset) throw this.fail(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%': {
        // `##` and `%%` match the longest pattern; the doubled character is read after expansion.
        const greedy = word.startsWith(modifier);
        const pattern = greedy ? word.slice(1) : word;
        return this.withPattern(pattern, () =>
          modifier === '%'
            ? trimSuffix(pattern, value, greedy)
            : trimPrefix(pattern, value, greedy),
        );
      }
      default:
        throw this.fail(`unsupported modifier (${shown}) in substitution`);
    }
  }

  /** `${V/p/r}` and `${V//p/r}`: both parts keep their escapes for the pattern converter. */
  private processReplace(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    const pattern = this.processOperand('/', true, "syntax error: missing '/' in ${}");
    const replacement = this.processOperand('}', true, "syntax error: missing '}'");
    const { value } = this.getEnv(name);
    return this.withPattern(pattern, () => replacePattern(pattern, value, replacement, all));
  }

  /** The word inside `${…}`; running out of input becomes the given syntax error. */
  private processOperand(stop: string, rawEscapes: boolean, missing: string): string {
    try {
      return this.processUntil(stop, rawEscapes).text;
    } catch (error) {
      if (isTbuildError(error, 'TB_DOCKERFILE_EXPANSION') && this.atEnd()) throw this.fail(missing);
      throw error;
    }
  }

  /** A name: letters, digits and `_`; or a run of digits; or one special parameter. */
  private processName(): string {
    let name = '';
    while (!this.atEnd()) {
      const ch = this.peek() ?? '';
      if (name === '' && DIGIT.test(ch)) {
        while (!this.atEnd() && DIGIT.test(this.peek() ?? '')) name += this.next() ?? '';
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) {
        this.next();
        return ch;
      }
      if (!LETTER.test(ch) && !DIGIT.test(ch) && ch !== '_') break;
      name += this.next() ?? '';
    }
    return name;
  }

  /** Pattern errors (bad escapes) are reported with the pattern and the whole word. */
  private withPattern(pattern: string, apply: () => string): string {
    try {
      return apply();
    } catch (error) {
      if (isTbuildError(error, 'TB_DOCKERFILE_EXPANSION')) {
        throw this.fail(`invalid pattern (${pattern}) in substitution: ${error.message}`);
      }
      throw error;
    }
  }
}
