import { TbuildError, type ErrorCode, type SourceLocation } from '../../core/index.js';
import type { SourceRange } from '../dockerfile/index.js';

/** The file and lines an error points at, for code frames. */
export interface SourceText {
  readonly file: string;
  readonly lines: readonly string[];
}

export function sourceLocation(text: SourceText, range: SourceRange): SourceLocation {
  return {
    file: text.file,
    startLine: range.startLine,
    endLine: range.endLine,
    lines: text.lines.slice(range.startLine - 1, range.endLine),
  };
}

/** A Dockerfile error at an instruction. */
export function dockerfileError(
  code: ErrorCode,
  message: string,
  text: SourceText,
  range: SourceRange,
  hint?: string,
): TbuildError {
  return new TbuildError(code, message, {
    source: sourceLocation(text, range),
    ...(hint === undefined ? {} : { hint }),
  });
}

/** Adds a source location to an error thrown while lowering an instruction, if it has none. */
export function withSource(error: unknown, text: SourceText, range: SourceRange): unknown {
  if (!(error instanceof TbuildError) || error.source !== undefined) return error;
  return new TbuildError(error.code, error.message, {
    source: sourceLocation(text, range),
    cause: error,
    ...(error.hint === undefined ? {} : { hint: error.hint }),
    ...(error.details === undefined ? {} : { details: error.details }),
  });
}

/** An error without a location yet; {@link withSource} adds it at the instruction. */
export function lowerError(code: ErrorCode, message: string, hint?: string): TbuildError {
  return new TbuildError(code, message, hint === undefined ? {} : { hint });
}
