import type { ArgInstruction, ParsedStage } from '../dockerfile/index.js';
import type { Linter } from './linter.js';
import { RULES } from './rules.js';
import { suggestName } from './suggest.js';

/** Expands one word with a lookup (the lowering's expandWord with the file's escape). */
export type ExpandWord = (word: string, lookup: (name: string) => string | undefined) => string;

export interface FromCheckInput {
  readonly stages: readonly ParsedStage[];
  readonly globalArgs: readonly ArgInstruction[];
  /** The automatic platform ARGs (BUILDPLATFORM, TARGETPLATFORM, …) with their values. */
  readonly automaticArgs: ReadonlyMap<string, string>;
  /** Global ARG values as the build sees them (build args applied). */
  readonly globalValues: ReadonlyMap<string, string>;
  readonly expand: ExpandWord;
  /** Whether a string is a valid image reference (Docker's ParseNormalizedNamed). */
  readonly isImageRef: (ref: string) => boolean;
  /** os and architecture of a platform string, or undefined when it does not parse. */
  readonly platformOf: (text: string) => { os: string; architecture: string } | undefined;
}

/** A variable lookup that notes which names it found and which it did not (ProcessWordWithMatches). */
function recording(values: ReadonlyMap<string, string>): {
  lookup: (name: string) => string | undefined;
  matched: Set<string>;
  unmatched: Set<string>;
} {
  const matched = new Set<string>();
  const unmatched = new Set<string>();
  return {
    matched,
    unmatched,
    lookup: (name) => {
      const value = values.get(name);
      if (value === undefined) unmatched.add(name);
      else matched.add(name);
      return value;
    },
  };
}

/**
 * The checks on FROM lines, over every stage as BuildKit's buildDispatchStates:
 * an image name that is invalid with only the ARG defaults, ARGs used in FROM but
 * never declared, `--platform=$TARGETPLATFORM`, and a constant `--platform`.
 */
export function runFromChecks(input: FromCheckInput, linter: Linter): void {
  checkDefaultArgs(input, linter);
  const declared = new Set<string>([...input.globalValues.keys()]);
  for (const instruction of input.globalArgs)
    for (const arg of instruction.args) declared.add(arg.key);
  for (const { from } of input.stages) {
    const image = recording(input.globalValues);
    try {
      input.expand(from.image, image.lookup);
    } catch {
      // The lowering reports a broken FROM line as the error it is.
    }
    reportUndeclared(image.unmatched, declared, from.range, linter);
    if (from.platform === undefined) continue;
    const platform = recording(input.globalValues);
    let result: string;
    try {
      result = input.expand(from.platform, platform.lookup);
    } catch {
      continue;
    }
    reportUndeclared(platform.unmatched, declared, from.range, linter);
    if (
      platform.matched.size === 1 &&
      platform.unmatched.size === 0 &&
      platform.matched.has('TARGETPLATFORM') &&
      result === input.globalValues.get('TARGETPLATFORM')
    )
      linter.run(RULES.RedundantTargetPlatform, from.range, from.platform);
    if (platform.matched.size === 0 && platform.unmatched.size === 0) {
      const parsed = input.platformOf(result);
      const name = from.alias ?? '';
      if (parsed !== undefined && !name.includes(parsed.os) && !name.includes(parsed.architecture))
        linter.run(RULES.FromPlatformFlagConstDisallowed, from.range, result);
    }
  }
}

function reportUndeclared(
  unmatched: ReadonlySet<string>,
  declared: ReadonlySet<string>,
  range: { startLine: number; endLine: number },
  linter: Linter,
): void {
  for (const name of unmatched) {
    if (declared.has(name)) continue;
    linter.run(RULES.UndefinedArgInFrom, range, name, suggestName(name, declared));
  }
}

/** validateBaseImagesWithDefaultArgs: the global ARGs' defaults alone, no build args. */
function checkDefaultArgs(input: FromCheckInput, linter: Linter): void {
  const defaults = new Map(input.automaticArgs);
  try {
    for (const instruction of input.globalArgs) {
      for (const arg of instruction.args) {
        if (arg.value !== undefined)
          defaults.set(
            arg.key,
            input.expand(arg.value, (name) => defaults.get(name)),
          );
      }
    }
  } catch {
    return;
  }
  for (const { from } of input.stages) {
    let name: string;
    try {
      name = input.expand(from.image, (key) => defaults.get(key));
    } catch {
      return;
    }
    if (!input.isImageRef(name))
      linter.runFileWide(RULES.InvalidDefaultArgInFrom, from.range, from.image);
  }
}
