import type { Instruction, InstructionKind, OnbuildInstruction } from './instructions.js';
import { parseCmd, parseEntrypoint, parseHealthcheck, parseRun, parseShell } from './commands.js';
import { parseAdd, parseCopy, parseVolume } from './files.js';
import { parseFlags } from './flags.js';
import type { RawInstruction } from './raw.js';
import type { LogicalLine } from './scanner.js';
import {
  parseArg,
  parseEnv,
  parseExpose,
  parseFrom,
  parseLabel,
  parseMaintainer,
  parseStopsignal,
  parseUser,
  parseWorkdir,
} from './simple.js';
import { argumentsError, dockerfileError, didYouMean, type Location } from './source.js';
import { splitCommand } from './words.js';

/** From a logical line to a typed instruction: split it, then the instruction's own parser. */

const PARSERS: Readonly<Record<InstructionKind, (raw: RawInstruction) => Instruction>> = {
  FROM: parseFrom,
  RUN: parseRun,
  CMD: parseCmd,
  ENTRYPOINT: parseEntrypoint,
  LABEL: parseLabel,
  MAINTAINER: parseMaintainer,
  EXPOSE: parseExpose,
  ENV: parseEnv,
  ADD: parseAdd,
  COPY: parseCopy,
  VOLUME: parseVolume,
  USER: parseUser,
  WORKDIR: parseWorkdir,
  ARG: parseArg,
  ONBUILD: parseOnbuild,
  STOPSIGNAL: parseStopsignal,
  HEALTHCHECK: parseHealthcheck,
  SHELL: parseShell,
};

export const INSTRUCTION_NAMES = Object.keys(PARSERS) as readonly InstructionKind[];

function isKind(name: string): name is InstructionKind {
  return Object.hasOwn(PARSERS, name);
}

export function parseLogicalLine(
  line: LogicalLine,
  where: Location,
  escape: '\\' | '`',
): Instruction {
  return parseText(line.text, line, where, escape);
}

function parseText(
  text: string,
  line: LogicalLine,
  where: Location,
  escape: '\\' | '`',
): Instruction {
  const { name, flags, rest } = splitCommand(text);
  const kind = name.toUpperCase();
  if (!isKind(kind)) {
    throw dockerfileError(
      'TB_DOCKERFILE_UNKNOWN_INSTRUCTION',
      where,
      `unknown instruction: ${name}${didYouMean(name, INSTRUCTION_NAMES)}`,
      { details: { instruction: name } },
    );
  }
  const raw: RawInstruction = {
    name,
    flags,
    rest,
    heredocs: line.heredocs,
    escape,
    where,
    base: { range: { startLine: line.startLine, endLine: line.endLine }, original: text },
  };
  return kind === 'ONBUILD' ? parseOnbuild(raw) : PARSERS[kind](raw);
}

/** Trigger names Docker refuses after ONBUILD. */
export const FORBIDDEN_TRIGGERS: Readonly<Record<string, string>> = {
  ONBUILD: "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
  FROM: "FROM isn't allowed as an ONBUILD trigger",
  MAINTAINER: "MAINTAINER isn't allowed as an ONBUILD trigger",
};

function parseOnbuild(raw: RawInstruction): OnbuildInstruction {
  parseFlags('ONBUILD', raw.flags, {}, raw.where);
  if (raw.rest === '') throw argumentsError(raw.where, 'ONBUILD requires at least one argument');
  const triggerName = splitCommand(raw.rest).name.toUpperCase();
  const forbidden = FORBIDDEN_TRIGGERS[triggerName];
  if (forbidden !== undefined) throw argumentsError(raw.where, forbidden);
  const line: LogicalLine = {
    text: raw.rest,
    startLine: raw.base.range.startLine,
    endLine: raw.base.range.endLine,
    heredocs: raw.heredocs,
  };
  const trigger = parseText(raw.rest, line, raw.where, raw.escape);
  // As Docker stores it: the text after ONBUILD, then each heredoc body and its delimiter.
  let expression = raw.base.original.replace(/^\s*ONBUILD\s*/i, '');
  for (const heredoc of raw.heredocs) expression += `\n${heredoc.content}${heredoc.name}`;
  return { kind: 'ONBUILD', ...raw.base, expression, trigger };
}
