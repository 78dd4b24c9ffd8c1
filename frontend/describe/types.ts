/**
 * The answers to `--call=targets` and `--call=outline`, shaped as BuildKit's
 * subrequests (frontend/subrequests/targets, outline) so their JSON matches
 * docker buildx's field for field.
 */

/** BuildKit's pb.Location: the lines of one instruction (sourceIndex 0 is left out, as Go's omitempty does). */
export interface SourceLocation {
  readonly ranges: readonly {
    readonly start: { readonly line: number };
    readonly end: { readonly line: number };
  }[];
}

export interface TargetInfo {
  readonly name?: string;
  readonly default?: boolean;
  readonly description?: string;
  readonly base?: string;
  readonly platform?: string;
  readonly location?: SourceLocation;
}

export interface TargetList {
  readonly targets: readonly TargetInfo[];
  /** The Dockerfile, base64 (Go's []byte in JSON). */
  readonly sources: readonly string[];
}

export interface OutlineArg {
  readonly name: string;
  readonly description?: string;
  readonly value?: string;
  readonly location?: SourceLocation;
}

export interface OutlineMount {
  readonly name: string;
  readonly required?: boolean;
  readonly location?: SourceLocation;
}

export interface Outline {
  readonly name?: string;
  readonly description?: string;
  readonly args?: readonly OutlineArg[];
  readonly secrets?: readonly OutlineMount[];
  readonly ssh?: readonly OutlineMount[];
  readonly sources?: readonly string[];
}

export function locationOf(range: {
  readonly startLine: number;
  readonly endLine: number;
}): SourceLocation {
  return { ranges: [{ start: { line: range.startLine }, end: { line: range.endLine } }] };
}
