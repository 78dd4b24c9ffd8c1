import type {
  ArgInstruction,
  EnvInstruction,
  ExposeInstruction,
  FromInstruction,
  KeyValue,
  LabelInstruction,
  MaintainerInstruction,
  StopsignalInstruction,
  UserInstruction,
  WorkdirInstruction,
} from './instructions.js';
import { parseFlags } from './flags.js';
import type { RawInstruction } from './raw.js';
import { argumentsError, dockerfileError } from './source.js';
import { parseWords, splitOnce, splitWhitespace } from './words.js';

/** The instructions with word or key=value arguments and (but for FROM) no flags. */

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

export function parseFrom(raw: RawInstruction): FromInstruction {
  const flags = parseFlags('FROM', raw.flags, { platform: 'string' }, raw.where);
  const args = splitWhitespace(raw.rest);
  const [image] = args;
  const hasAlias = args.length === 3 && args[1]?.toLowerCase() === 'as';
  if (image === undefined || (args.length !== 1 && !hasAlias)) {
    throw argumentsError(raw.where, 'FROM requires either one or three arguments', {
      hint: 'write FROM <image> [AS <name>]',
    });
  }
  let alias: string | undefined;
  if (hasAlias) {
    const written = args[2] ?? '';
    alias = written.toLowerCase();
    if (!STAGE_NAME.test(alias)) {
      throw dockerfileError(
        'TB_DOCKERFILE_STAGE',
        raw.where,
        `invalid name for build stage: "${written}", name can't start with a number or contain symbols`,
      );
    }
  }
  const platform = flags.string('platform');
  return {
    kind: 'FROM',
    ...raw.base,
    image,
    ...(alias === undefined ? {} : { alias }),
    ...(platform === undefined ? {} : { platform }),
  };
}

/**
 * parseNameVal (ENV, LABEL): `KEY value…` (legacy: the rest of the line is the
 * value) when the first word has no `=`, else `k=v` words. Values keep their
 * quotes; expansion removes them.
 */
function keyValues(raw: RawInstruction, instruction: string): KeyValue[] {
  const words = parseWords(raw.rest, raw.escape);
  const [first] = words;
  if (first === undefined) {
    throw argumentsError(raw.where, `${instruction} requires at least one argument`);
  }
  const pairs: KeyValue[] = [];
  if (!first.includes('=')) {
    const [key, value] = splitOnce(raw.rest);
    if (value === undefined) {
      throw argumentsError(raw.where, `${instruction} must have two arguments`, {
        hint: `write ${instruction} key=value`,
      });
    }
    pairs.push({ key, value });
  } else {
    for (const word of words) {
      const equals = word.indexOf('=');
      if (equals < 0) {
        throw argumentsError(
          raw.where,
          `Syntax error - can't find = in "${word}". Must be of the form: name=value`,
        );
      }
      pairs.push({ key: word.slice(0, equals), value: word.slice(equals + 1) });
    }
  }
  if (pairs.some((pair) => pair.key === '')) {
    throw argumentsError(raw.where, `${instruction} names can not be blank`);
  }
  return pairs;
}

export function parseEnv(raw: RawInstruction): EnvInstruction {
  parseFlags('ENV', raw.flags, {}, raw.where);
  return { kind: 'ENV', ...raw.base, variables: keyValues(raw, 'ENV') };
}

export function parseLabel(raw: RawInstruction): LabelInstruction {
  parseFlags('LABEL', raw.flags, {}, raw.where);
  return { kind: 'LABEL', ...raw.base, labels: keyValues(raw, 'LABEL') };
}

export function parseArg(raw: RawInstruction): ArgInstruction {
  parseFlags('ARG', raw.flags, {}, raw.where);
  const words = parseWords(raw.rest, raw.escape);
  if (words.length === 0) throw argumentsError(raw.where, 'ARG requires at least one argument');
  const args = words.map((word) => {
    const equals = word.indexOf('=');
    if (equals < 0) return { key: word };
    return { key: word.slice(0, equals), value: word.slice(equals + 1) };
  });
  if (args.some((arg) => arg.key === '')) {
    throw argumentsError(raw.where, 'ARG names can not be blank');
  }
  return { kind: 'ARG', ...raw.base, args };
}

/** parseString instructions: the whole rest of the line is the one argument. */
function oneString(raw: RawInstruction, instruction: string): string {
  parseFlags(instruction, raw.flags, {}, raw.where);
  if (raw.rest === '')
    throw argumentsError(raw.where, `${instruction} requires exactly one argument`);
  return raw.rest;
}

export function parseMaintainer(raw: RawInstruction): MaintainerInstruction {
  return { kind: 'MAINTAINER', ...raw.base, name: oneString(raw, 'MAINTAINER') };
}

export function parseUser(raw: RawInstruction): UserInstruction {
  return { kind: 'USER', ...raw.base, user: oneString(raw, 'USER') };
}

export function parseWorkdir(raw: RawInstruction): WorkdirInstruction {
  return { kind: 'WORKDIR', ...raw.base, path: oneString(raw, 'WORKDIR') };
}

export function parseStopsignal(raw: RawInstruction): StopsignalInstruction {
  return { kind: 'STOPSIGNAL', ...raw.base, signal: oneString(raw, 'STOPSIGNAL') };
}

export function parseExpose(raw: RawInstruction): ExposeInstruction {
  parseFlags('EXPOSE', raw.flags, {}, raw.where);
  const ports = splitWhitespace(raw.rest);
  if (ports.length === 0) throw argumentsError(raw.where, 'EXPOSE requires at least one argument');
  return { kind: 'EXPOSE', ...raw.base, ports };
}
