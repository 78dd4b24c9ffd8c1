import { type ErrorCode, TbuildError, closestMatch } from '../../core/index.js';

/** Where an instruction sits, with the file's lines for the error's code frame. */
export interface Location {
  readonly file: string;
  readonly fileLines: readonly string[];
  readonly startLine: number;
  readonly endLine: number;
}

export interface ErrorExtras {
  readonly hint?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * A Dockerfile error: `file:line: message`, with the offending lines attached
 * so the CLI can print a code frame.
 */
export function dockerfileError(
  code: ErrorCode,
  where: Location,
  message: string,
  extras: ErrorExtras = {},
): TbuildError {
  const lines = where.fileLines
    .slice(where.startLine - 1, where.endLine)
    .map((line) => line.replace(/\r$/, ''));
  return new TbuildError(code, `${where.file}:${String(where.startLine)}: ${message}`, {
    ...extras,
    source: { file: where.file, startLine: where.startLine, endLine: where.endLine, lines },
  });
}

export function syntaxError(
  where: Location,
  message: string,
  extras: ErrorExtras = {},
): TbuildError {
  return dockerfileError('TB_DOCKERFILE_SYNTAX', where, message, extras);
}

export function argumentsError(
  where: Location,
  message: string,
  extras: ErrorExtras = {},
): TbuildError {
  return dockerfileError('TB_DOCKERFILE_ARGUMENTS', where, message, extras);
}

export function flagValueError(
  where: Location,
  message: string,
  extras: ErrorExtras = {},
): TbuildError {
  return dockerfileError('TB_DOCKERFILE_FLAG_VALUE', where, message, extras);
}

/** ` (did you mean X?)` when a candidate is close enough, else nothing. */
export function didYouMean(
  word: string,
  candidates: Iterable<string>,
  render = (s: string) => s,
): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? '' : ` (did you mean ${render(match)}?)`;
}
