import { TbuildError, isTbuildError } from '../../core/index.js';
import type {
  ArgInstruction,
  FromInstruction,
  Instruction,
  ParsedDockerfile,
  ParsedStage,
} from './instructions.js';
import { FORBIDDEN_TRIGGERS, parseLogicalLine } from './dispatch.js';
import { type Location, dockerfileError, syntaxError } from './source.js';
import { scan } from './scanner.js';
import { splitCommand } from './words.js';

/**
 * Dockerfile text → typed instructions grouped into stages. The rules are
 * Docker's (BuildKit's parser and instructions packages); every user error is
 * a TbuildError pointing at its lines, and nothing else ever escapes.
 */
export function parseDockerfile(
  text: string,
  options: { readonly file: string },
): ParsedDockerfile {
  return guarded(options.file, text, () => parseWhole(text, options.file));
}

/** Parses one instruction's text, used for ONBUILD triggers stored in a base image config. */
export function parseInstruction(
  text: string,
  options: { readonly file: string; readonly escape: '\\' | '`' },
): Instruction {
  return guarded(options.file, text, () => {
    const { rawLines, endsWithNewline } = splitLines(text);
    const { lines } = scan({
      file: options.file,
      rawLines,
      escape: options.escape,
      directives: false,
      endsWithNewline,
    });
    const [first, second] = lines;
    const whole: Location = {
      file: options.file,
      fileLines: rawLines,
      startLine: 1,
      endLine: Math.max(1, rawLines.length),
    };
    if (first === undefined) throw syntaxError(whole, 'empty instruction');
    if (second !== undefined) {
      throw syntaxError(whole, 'expected one instruction, found several');
    }
    const where = locate(options.file, rawLines, first.startLine, first.endLine);
    const forbidden = FORBIDDEN_TRIGGERS[splitCommand(first.text).name.toUpperCase()];
    if (forbidden !== undefined) throw dockerfileError('TB_DOCKERFILE_ARGUMENTS', where, forbidden);
    return parseLogicalLine(first, where, options.escape);
  });
}

function parseWhole(text: string, file: string): ParsedDockerfile {
  const { rawLines, endsWithNewline } = splitLines(text);
  const { directives, lines } = scan({
    file,
    rawLines,
    escape: '\\',
    directives: true,
    endsWithNewline,
  });
  const globalArgs: ArgInstruction[] = [];
  const stages: { from: FromInstruction; instructions: Instruction[] }[] = [];
  for (const line of lines) {
    const where = locate(file, rawLines, line.startLine, line.endLine);
    const instruction = parseLogicalLine(line, where, directives.escape);
    if (instruction.kind === 'FROM') {
      // A stage name used twice is refused by the lowering, after the DuplicateStageName check.
      stages.push({ from: instruction, instructions: [] });
      continue;
    }
    const current = stages.at(-1);
    if (current !== undefined) {
      current.instructions.push(instruction);
    } else if (instruction.kind === 'ARG') {
      globalArgs.push(instruction);
    } else {
      throw dockerfileError(
        'TB_DOCKERFILE_NO_STAGES',
        where,
        `${instruction.kind} before the first FROM: no build stage in current context`,
        { hint: 'only ARG may come before the first FROM' },
      );
    }
  }
  if (stages.length === 0) {
    const last = Math.max(1, rawLines.length);
    throw dockerfileError(
      'TB_DOCKERFILE_NO_STAGES',
      locate(file, rawLines, last, last),
      lines.length === 0 ? 'file with no instructions' : 'the Dockerfile has no FROM instruction',
      { hint: 'a Dockerfile starts its first build stage with FROM <image>' },
    );
  }
  const parsedStages: ParsedStage[] = stages;
  return {
    file,
    lines: rawLines.map((line) => line.replace(/\r$/, '')),
    directives,
    globalArgs,
    stages: parsedStages,
  };
}

function splitLines(text: string): { rawLines: string[]; endsWithNewline: boolean } {
  const withoutBom = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const rawLines = withoutBom.split('\n');
  const endsWithNewline = withoutBom.endsWith('\n');
  if (endsWithNewline || withoutBom === '') rawLines.pop();
  return { rawLines, endsWithNewline };
}

function locate(
  file: string,
  fileLines: readonly string[],
  startLine: number,
  endLine: number,
): Location {
  return { file, fileLines, startLine, endLine };
}

/** Anything thrown that is not already a TbuildError is a bug of ours: report it as one, with where. */
function guarded<T>(file: string, text: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (isTbuildError(error)) throw error;
    throw new TbuildError('TB_INTERNAL', `${file}: the Dockerfile parser failed unexpectedly`, {
      cause: error,
      details: { length: text.length },
    });
  }
}
