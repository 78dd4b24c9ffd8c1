import type { Heredoc, SourceRange } from './instructions.js';
import type { Location } from './source.js';

/** One logical line split into name, flags and arguments, ready for its instruction parser. */
export interface RawInstruction {
  /** The instruction name as written (`run`, `Copy`). */
  readonly name: string;
  readonly flags: readonly string[];
  /** The arguments after the flags, trimmed. */
  readonly rest: string;
  readonly heredocs: readonly Heredoc[];
  readonly escape: '\\' | '`';
  readonly where: Location;
  /** The fields every instruction carries. */
  readonly base: { readonly range: SourceRange; readonly original: string };
}
