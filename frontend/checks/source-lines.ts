import type { Instruction, ParsedDockerfile, SourceRange } from '../dockerfile/index.js';

/**
 * What BuildKit's parser notes about the lines around instructions and our
 * parser drops: the comments just before each instruction (PrevComment, for
 * descriptions) and continuations with an empty line in them. Both are read
 * back from the file's lines and the instructions' ranges.
 */

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);

/** Every instruction of the file in order (global ARGs, then each stage's FROM and body). */
export function allInstructions(parsed: ParsedDockerfile): Instruction[] {
  const list: Instruction[] = [...parsed.globalArgs];
  for (const stage of parsed.stages) list.push(stage.from, ...stage.instructions);
  return list.sort((a, b) => a.range.startLine - b.range.startLine);
}

/**
 * The comments before each instruction, by its first line: every `#` line since the
 * previous instruction (blank lines do not end the run, an empty `#` does), without
 * the parser directives at the top, each with `#` and surrounding space removed.
 */
export function precedingComments(parsed: ParsedDockerfile): Map<number, string[]> {
  const starts = new Map<number, SourceRange>();
  for (const instruction of allInstructions(parsed))
    starts.set(instruction.range.startLine, instruction.range);
  const result = new Map<number, string[]>();
  let comments: string[] = [];
  let directives = true;
  let line = 1;
  while (line <= parsed.lines.length) {
    const range = starts.get(line);
    if (range !== undefined) {
      result.set(line, comments);
      comments = [];
      directives = false;
      line = range.endLine + 1;
      continue;
    }
    const text = parsed.lines[line - 1] ?? '';
    const token = text.replace(/^\s+/, '');
    if (token.startsWith('#')) {
      const comment = text.slice(text.indexOf('#') + 1).trim();
      const match = DIRECTIVE.exec(token);
      const isDirective =
        directives && match !== null && KNOWN_DIRECTIVES.has((match[1] ?? '').toLowerCase());
      if (!isDirective) directives = false;
      if (isDirective) {
        // A parser directive is not a comment.
      } else if (comment === '') comments = [];
      else comments.push(comment);
    } else {
      directives = false;
    }
    line++;
  }
  return result;
}

/** BuildKit's getDocComment: the text after `NAME ` in the first comment that starts so. */
export function docComment(comments: readonly string[] | undefined, name: string): string {
  if (name === '') return '';
  for (const comment of comments ?? []) {
    if (comment.startsWith(`${name} `)) return comment.slice(name.length + 1);
  }
  return '';
}

/**
 * The line BuildKit reports an empty continuation on (the instruction's last joined
 * line), or undefined when the instruction's continuations have no empty line.
 */
export function emptyContinuationLine(
  lines: readonly string[],
  range: SourceRange,
  escape: '\\' | '`',
): number | undefined {
  const e = escape === '\\' ? '\\\\' : '`';
  const continuation = new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
  let line = range.startLine;
  let continues = continuation.test((lines[line - 1] ?? '').replace(/^\s+/, ''));
  let empty = false;
  while (continues && line < lines.length) {
    line++;
    const text = lines[line - 1] ?? '';
    if (/^\s*#/.test(text)) continue;
    if (text.trim() === '') {
      empty = true;
      continue;
    }
    continues = continuation.test(text);
  }
  return empty ? line : undefined;
}
