import type {
  CmdInstruction,
  CommandLine,
  EntrypointInstruction,
  HealthcheckInstruction,
  RunInstruction,
  ShellInstruction,
} from './instructions.js';
import { parseFlags } from './flags.js';
import { parseMount } from './mounts.js';
import type { RawInstruction } from './raw.js';
import { argumentsError, didYouMean, flagValueError, type Location } from './source.js';
import { isSpace, parseJsonArray, trimLeftSpace } from './words.js';

/** RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK: the instructions that hold a command. */

/** parseMaybeJSON: exec form when the arguments are a JSON array of strings, else shell form. */
export function commandLine(rest: string, where: Location, instruction: string): CommandLine {
  if (rest === '') return { form: 'shell', script: '' };
  const json = parseJsonArray(rest);
  if (json.kind === 'array') return { form: 'exec', args: json.values };
  if (json.kind === 'not-strings') throw notStrings(where, instruction);
  return { form: 'shell', script: rest };
}

function notStrings(where: Location, instruction: string) {
  return argumentsError(
    where,
    `${instruction}: when using JSON array syntax, arrays must be comprised of strings only`,
  );
}

const NETWORK_MODES = ['default', 'none', 'host'] as const;
const SECURITY_MODES = ['sandbox', 'insecure'] as const;

export function parseRun(raw: RawInstruction): RunInstruction {
  const flags = parseFlags(
    'RUN',
    raw.flags,
    { mount: 'strings', network: 'string', security: 'string' },
    raw.where,
  );
  const mounts = flags.strings('mount').map((value) => parseMount(value, raw.where));
  const network = oneOf('network', flags.string('network'), NETWORK_MODES, raw.where);
  const security = oneOf('security', flags.string('security'), SECURITY_MODES, raw.where);
  return {
    kind: 'RUN',
    ...raw.base,
    command: commandLine(raw.rest, raw.where, 'RUN'),
    heredocs: raw.heredocs,
    mounts,
    ...(network === undefined ? {} : { network }),
    ...(security === undefined ? {} : { security }),
  };
}

function oneOf<T extends string>(
  flag: string,
  value: string | undefined,
  allowed: readonly T[],
  where: Location,
): T | undefined {
  if (value === undefined) return undefined;
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) {
    throw flagValueError(
      where,
      `unsupported value for --${flag}: "${value}"${didYouMean(value, allowed)}`,
      { hint: `--${flag} accepts ${allowed.join(', ')}` },
    );
  }
  return found;
}

export function parseCmd(raw: RawInstruction): CmdInstruction {
  parseFlags('CMD', raw.flags, {}, raw.where);
  return { kind: 'CMD', ...raw.base, command: commandLine(raw.rest, raw.where, 'CMD') };
}

export function parseEntrypoint(raw: RawInstruction): EntrypointInstruction {
  parseFlags('ENTRYPOINT', raw.flags, {}, raw.where);
  return {
    kind: 'ENTRYPOINT',
    ...raw.base,
    command: commandLine(raw.rest, raw.where, 'ENTRYPOINT'),
  };
}

export function parseShell(raw: RawInstruction): ShellInstruction {
  parseFlags('SHELL', raw.flags, {}, raw.where);
  const command = commandLine(raw.rest, raw.where, 'SHELL');
  if (command.form === 'shell' && command.script !== '') {
    throw argumentsError(raw.where, 'SHELL requires the arguments to be in JSON form', {
      hint: 'write SHELL ["executable", "parameters"], e.g. SHELL ["/bin/bash", "-c"]',
    });
  }
  if (command.form === 'shell' || command.args.length === 0) {
    throw argumentsError(raw.where, 'SHELL requires at least one argument');
  }
  return { kind: 'SHELL', ...raw.base, shell: command.args };
}

const HEALTHCHECK_FLAGS = {
  interval: 'string',
  timeout: 'string',
  'start-period': 'string',
  'start-interval': 'string',
  retries: 'string',
} as const;

export function parseHealthcheck(raw: RawInstruction): HealthcheckInstruction {
  const flags = parseFlags('HEALTHCHECK', raw.flags, HEALTHCHECK_FLAGS, raw.where);
  const chars = Array.from(raw.rest);
  const typeEnd = chars.findIndex((ch) => isSpace(ch));
  const type = (typeEnd < 0 ? raw.rest : chars.slice(0, typeEnd).join('')).toUpperCase();
  const args = typeEnd < 0 ? '' : trimLeftSpace(chars.slice(typeEnd).join(''));
  if (type === '') throw argumentsError(raw.where, 'HEALTHCHECK requires at least one argument');
  if (type === 'NONE') {
    if (args !== '') throw argumentsError(raw.where, 'HEALTHCHECK NONE takes no arguments');
    // Like Docker, flags given with NONE are accepted and have no effect.
    return { kind: 'HEALTHCHECK', ...raw.base };
  }
  if (type !== 'CMD') {
    throw argumentsError(
      raw.where,
      `unknown type "${type}" in HEALTHCHECK (try CMD)${didYouMean(type, ['CMD', 'NONE'])}`,
    );
  }
  const command = commandLine(args, raw.where, 'HEALTHCHECK');
  if (
    (command.form === 'shell' && command.script === '') ||
    (command.form === 'exec' && command.args.length === 0)
  ) {
    throw argumentsError(raw.where, 'missing command after HEALTHCHECK CMD');
  }
  const durations: Record<string, string> = {};
  for (const [flag, key] of [
    ['interval', 'interval'],
    ['timeout', 'timeout'],
    ['start-period', 'startPeriod'],
    ['start-interval', 'startInterval'],
  ] as const) {
    const value = flags.string(flag);
    if (value === undefined) continue;
    checkDuration(flag, value, raw.where);
    durations[key] = value;
  }
  const retries = flags.string('retries');
  if (retries !== undefined) {
    if (!/^[+-]?\d+$/.test(retries)) {
      throw flagValueError(raw.where, `invalid value for --retries: "${retries}" is not a number`);
    }
    if (Number(retries) < 1) {
      throw flagValueError(raw.where, `--retries must be at least 1 (not ${retries})`);
    }
  }
  return {
    kind: 'HEALTHCHECK',
    ...raw.base,
    command,
    ...durations,
    ...(retries === undefined ? {} : { retries }),
  };
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration, and Docker's minimum of 1ms for healthcheck durations. */
function checkDuration(flag: string, value: string, where: Location): void {
  const pattern = /^([-+]?)((?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+|0)$/u;
  const match = pattern.exec(value);
  if (match === null) {
    throw flagValueError(where, `invalid duration for --${flag}: "${value}"`, {
      hint: 'durations are written like 30s, 1m30s or 500ms',
    });
  }
  let millis = 0;
  for (const part of (match[2] ?? '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gu)) {
    millis += Number(part[1]) * (DURATION_UNITS[part[2] ?? ''] ?? 0);
  }
  if (match[1] === '-') millis = -millis;
  if (millis < 1) {
    throw flagValueError(where, `interval "${flag}" cannot be less than 1ms`);
  }
}
