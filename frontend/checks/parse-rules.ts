import type { Instruction, ParsedDockerfile } from '../dockerfile/index.js';
import { splitCommand, splitWhitespace } from '../dockerfile/words.js';
import type { Linter } from './linter.js';
import { parseCheckOptions, type CheckOptions } from './options.js';
import { RULES } from './rules.js';
import { allInstructions, emptyContinuationLine, precedingComments } from './source-lines.js';

/**
 * The checks BuildKit runs while parsing, over every stage whatever the target:
 * empty continuations, MAINTAINER, stage-name and FROM/AS casing, definition
 * descriptions, then stage names and instruction casing across the file.
 */
export function runParseChecks(parsed: ParsedDockerfile, linter: Linter): void {
  const instructions = allInstructions(parsed);
  for (const instruction of instructions) {
    const line = emptyContinuationLine(parsed.lines, instruction.range, parsed.directives.escape);
    if (line !== undefined)
      linter.runFileWide(RULES.NoEmptyContinuation, { startLine: line, endLine: line });
  }
  const comments = precedingComments(parsed);
  for (const instruction of instructions) {
    const before = comments.get(instruction.range.startLine) ?? [];
    const scoped = checkComment(before);
    if (scoped !== undefined) linter.scope(instruction.range.startLine, scoped);
    if (instruction.kind === 'MAINTAINER')
      linter.run(RULES.MaintainerDeprecated, instruction.range);
    if (instruction.kind === 'FROM') checkFromWords(instruction, linter);
    if (instruction.kind === 'FROM' && instruction.alias !== undefined)
      checkDescription('FROM', [instruction.alias], before, instruction, linter);
    if (instruction.kind === 'ARG')
      checkDescription(
        'ARG',
        instruction.args.map((arg) => arg.key),
        before,
        instruction,
        linter,
      );
  }
  checkStageNames(parsed, linter);
  checkInstructionCasing(parsed, linter);
}

const CHECK_COMMENT = /^check\s*=\s*(.+?)\s*$/i;

/**
 * The first `# check=…` among the comments above an instruction, as BuildKit's
 * WithMergedConfigFromComments reads it (up to a space; a malformed one is ignored).
 */
function checkComment(comments: readonly string[]): CheckOptions | undefined {
  for (const comment of comments) {
    const match = CHECK_COMMENT.exec(comment);
    if (match === null) continue;
    try {
      return parseCheckOptions((match[1] ?? '').split(' ')[0] ?? '', 'check comment');
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The instruction's keyword as written (`from`, `From`, `FROM`). */
export function writtenKeyword(instruction: Instruction): string {
  return splitCommand(instruction.original).name;
}

function checkFromWords(instruction: Instruction & { kind: 'FROM' }, linter: Linter): void {
  const command = splitCommand(instruction.original);
  const args = splitWhitespace(command.rest);
  if (args.length !== 3) return;
  const [, as = '', name = ''] = args;
  if (name !== name.toLowerCase()) linter.run(RULES.StageNameCasing, instruction.range, name);
  const from = command.name;
  const fromLower = from === from.toLowerCase();
  const fromUpper = from === from.toUpperCase();
  // A FROM in mixed case is ConsistentInstructionCasing's business, not this rule's.
  if (!fromLower && !fromUpper) return;
  const matches = fromLower ? as === as.toLowerCase() : as === as.toUpperCase();
  if (!matches) linter.run(RULES.FromAsCasing, instruction.range, from, as);
}

/** Experimental: the last comment before FROM/ARG should start with the name it describes. */
function checkDescription(
  instruction: 'FROM' | 'ARG',
  names: readonly string[],
  comments: readonly string[],
  at: Instruction,
  linter: Linter,
): void {
  const last = comments.at(-1);
  if (last === undefined || names.length === 0) return;
  const firstWord = last.split(' ')[0] ?? '';
  if (names.includes(firstWord)) return;
  const example = names.length > 1 ? '<arg_key>' : (names[0] ?? '');
  linter.run(RULES.InvalidDefinitionDescription, at.range, instruction, example);
}

const RESERVED_STAGE_NAMES = new Set(['context', 'scratch']);

function checkStageNames(parsed: ParsedDockerfile, linter: Linter): void {
  const seen = new Set<string>();
  for (const { from } of parsed.stages) {
    if (from.alias === undefined) continue;
    if (RESERVED_STAGE_NAMES.has(from.alias))
      linter.runFileWide(RULES.ReservedStageName, from.range, from.alias);
    if (seen.has(from.alias)) linter.runFileWide(RULES.DuplicateStageName, from.range, from.alias);
    seen.add(from.alias);
  }
}

function isSelfConsistent(word: string): boolean {
  return word === word.toLowerCase() || word === word.toUpperCase();
}

/**
 * Each keyword in one case, and the case of the majority (counted over keywords
 * that are all lower or all upper; a tie counts as upper, as BuildKit's `>`).
 */
function checkInstructionCasing(parsed: ParsedDockerfile, linter: Linter): void {
  const keywords: { word: string; at: Instruction }[] = [];
  for (const stage of parsed.stages) {
    for (const at of [stage.from, ...stage.instructions])
      keywords.push({ word: writtenKeyword(at), at });
  }
  let lower = 0;
  let upper = 0;
  for (const { word } of keywords) {
    if (!isSelfConsistent(word)) continue;
    if (word === word.toLowerCase()) lower++;
    else upper++;
  }
  const majorityLower = lower > upper;
  for (const { word, at } of keywords) {
    if (majorityLower && word !== word.toLowerCase())
      linter.runFileWide(RULES.ConsistentInstructionCasing, at.range, word, 'lowercase');
    else if (!majorityLower && word !== word.toUpperCase())
      linter.runFileWide(RULES.ConsistentInstructionCasing, at.range, word, 'uppercase');
  }
}
