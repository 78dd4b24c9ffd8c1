import type { Directives, Heredoc } from './instructions.js';
import { heredocsFromLine } from './heredoc-words.js';
import { type Location, syntaxError } from './source.js';
import { parseJsonArray, splitCommand } from './words.js';

/**
 * Splits a Dockerfile into logical lines as BuildKit's parser.Parse does:
 * parser directives at the top, comments and blank lines skipped, continuation
 * lines joined (comment and blank lines inside a continuation dropped), and
 * heredoc bodies read after the line that opens them.
 */
export interface LogicalLine {
  /** The joined line: continuation characters removed, first line left-trimmed. */
  readonly text: string;
  readonly startLine: number;
  readonly endLine: number;
  /** Heredoc bodies in opening order; content is final (tabs stripped for `<<-`). */
  readonly heredocs: readonly Heredoc[];
}

export interface ScanResult {
  readonly directives: Directives;
  readonly lines: readonly LogicalLine[];
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add']);

export interface ScanOptions {
  readonly file: string;
  /** The raw lines of the text (each without its `\n`). */
  readonly rawLines: readonly string[];
  /** Initial escape character; directives may change it when `directives` is true. */
  readonly escape: '\\' | '`';
  readonly directives: boolean;
  /** Whether the text's last line ends with a newline (a heredoc body keeps exactly that). */
  readonly endsWithNewline: boolean;
}

export function scan(options: ScanOptions): ScanResult {
  const { rawLines, file } = options;
  const found: { syntax?: string; check?: string } = {};
  const seen = new Set<string>();
  let escape = options.escape;
  let continuation = continuationPattern(escape);
  let directivesDone = !options.directives;
  const where = (startLine: number, endLine: number): Location => ({
    file,
    fileLines: rawLines,
    startLine,
    endLine,
  });

  /** Go's possibleParserDirective: only before the first non-directive line. */
  const directive = (token: string, lineNumber: number): void => {
    if (directivesDone) return;
    const match = DIRECTIVE.exec(token);
    const name = match?.[1]?.toLowerCase();
    if (match === null || name === undefined || !KNOWN_DIRECTIVES.has(name)) {
      directivesDone = true;
      return;
    }
    const value = match[2] ?? '';
    if (seen.has(name)) {
      throw syntaxError(
        where(lineNumber, lineNumber),
        `only one ${name} parser directive can be used`,
      );
    }
    seen.add(name);
    if (name === 'escape') {
      if (value !== '\\' && value !== '`') {
        throw syntaxError(
          where(lineNumber, lineNumber),
          `invalid escape token '${value}' does not match \` or \\`,
        );
      }
      escape = value;
      continuation = continuationPattern(escape);
    } else if (name === 'syntax') {
      found.syntax = value;
    } else {
      found.check = value;
    }
  };

  const lines: LogicalLine[] = [];
  let index = 0;
  while (index < rawLines.length) {
    const lineNumber = index + 1;
    const raw = trimNewline(rawLines[index] ?? '');
    index++;
    const token = raw.replace(/^\p{White_Space}+/u, '');
    directive(token, lineNumber);
    let [text, ended] = trimContinuation(isComment(raw) ? '' : token, continuation);
    if (ended && text === '') continue;

    let endLine = lineNumber;
    while (!ended && index < rawLines.length) {
      const next = trimNewline(rawLines[index] ?? '');
      index++;
      endLine = index;
      directive(next, endLine);
      if (isComment(next) || next.replace(/^\p{White_Space}+/u, '') === '') continue;
      const [part, partEnded] = trimContinuation(next, continuation);
      text += part;
      ended = partEnded;
    }

    const heredocs: Heredoc[] = [];
    if (canContainHeredoc(text)) {
      for (const opener of heredocsFromLine(text)) {
        let content = '';
        let terminated = false;
        while (index < rawLines.length) {
          const bodyLine = rawLines[index] ?? '';
          const last = index === rawLines.length - 1;
          index++;
          endLine = index;
          let candidate = trimNewline(bodyLine);
          if (opener.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === opener.name) {
            terminated = true;
            break;
          }
          // Lines keep their newline, except a final line without one.
          content += last && !options.endsWithNewline ? bodyLine : `${bodyLine}\n`;
        }
        if (!terminated) {
          throw syntaxError(where(lineNumber, endLine), `unterminated heredoc ${opener.name}`, {
            hint: `end the heredoc with a line holding only "${opener.name}"`,
          });
        }
        if (opener.chomp) content = content.replace(/^\t+/gm, '');
        heredocs.push({ name: opener.name, content, expand: opener.expand, chomp: opener.chomp });
      }
    }
    lines.push({ text, startLine: lineNumber, endLine, heredocs });
  }
  return { directives: { escape, ...found }, lines };
}

function continuationPattern(escape: string): RegExp {
  const e = escape === '\\' ? '\\\\' : '`';
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

/** Returns the line without its continuation character and whether the instruction ended. */
function trimContinuation(line: string, pattern: RegExp): [string, boolean] {
  if (!pattern.test(line)) return [line, true];
  return [line.replace(pattern, '$1'), false];
}

function trimNewline(line: string): string {
  return line.replace(/[\r\n]+$/, '');
}

function isComment(line: string): boolean {
  return /^\p{White_Space}*#/u.test(line);
}

/** canContainHeredoc: RUN, COPY and ADD (also as ONBUILD triggers), unless in JSON form. */
function canContainHeredoc(line: string): boolean {
  let command = splitCommand(line);
  if (command.name.toLowerCase() === 'onbuild') command = splitCommand(command.rest);
  if (!HEREDOC_INSTRUCTIONS.has(command.name.toLowerCase())) return false;
  return parseJsonArray(command.rest).kind !== 'array';
}
