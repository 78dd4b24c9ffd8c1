import type {
  ArgInstruction,
  CommandLine,
  EnvInstruction,
  ExposeInstruction,
  HealthcheckInstruction,
  Instruction,
  LabelInstruction,
} from '../dockerfile/index.js';
import type { WorkingContainerConfig } from './image.js';
import { commitHistory, expandIn, expandListIn, type LowerContext } from './context.js';
import { lowerError } from './errors.js';
import { parsePortSpec } from './expose.js';
import { formatGoDuration, goList, goQuotedList, parseGoDuration } from './go-format.js';
import { addEnvEntry, envSet, type StageState } from './state.js';

const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** A shell-form command wrapped in SHELL (default `/bin/sh -c`), as BuildKit's withShell. */
export function withShell(state: StageState, script: string): string[] {
  const shell = state.image.config.Shell;
  return [...(shell !== undefined && shell.length > 0 ? shell : DEFAULT_SHELL), script];
}

function commandArgs(state: StageState, command: CommandLine): string[] {
  return command.form === 'exec' ? [...command.args] : withShell(state, command.script);
}

/** Instructions that change only the image config and history. Returns false for other kinds. */
export function dispatchConfigInstruction(
  ctx: LowerContext,
  state: StageState,
  instruction: Instruction,
): boolean {
  const config = state.image.config;
  switch (instruction.kind) {
    case 'ENV':
      dispatchEnv(ctx, state, instruction);
      return true;
    case 'ARG':
      dispatchArg(ctx, state, instruction);
      return true;
    case 'LABEL':
      dispatchLabel(ctx, state, instruction);
      return true;
    case 'MAINTAINER':
      state.image.author = instruction.name;
      commitHistory(ctx, state, `MAINTAINER ${instruction.name}`, false);
      return true;
    case 'EXPOSE':
      dispatchExpose(ctx, state, instruction);
      return true;
    case 'VOLUME': {
      const volumes = instruction.paths.map((path) => expandIn(ctx, state, path));
      if (volumes.some((volume) => volume === '')) {
        throw lowerError('TB_DOCKERFILE_ARGUMENTS', 'VOLUME specified can not be an empty string');
      }
      config.Volumes = {
        ...config.Volumes,
        ...Object.fromEntries(volumes.map((volume) => [volume, {}])),
      };
      commitHistory(ctx, state, `VOLUME ${goList(volumes)}`, false);
      return true;
    }
    case 'USER': {
      const user = expandIn(ctx, state, instruction.user);
      config.User = user;
      state.user = user;
      commitHistory(ctx, state, `USER ${user}`, false);
      return true;
    }
    case 'STOPSIGNAL': {
      const signal = expandIn(ctx, state, instruction.signal);
      checkSignal(signal);
      config.StopSignal = signal;
      commitHistory(ctx, state, `STOPSIGNAL ${signal}`, false);
      return true;
    }
    case 'SHELL':
      config.Shell = [...instruction.shell];
      commitHistory(ctx, state, `SHELL ${goList(instruction.shell)}`, false);
      return true;
    case 'CMD': {
      const args = commandArgs(state, instruction.command);
      config.Cmd = args;
      config.ArgsEscaped = true;
      state.cmdSet = true;
      commitHistory(ctx, state, `CMD ${goQuotedList(args)}`, false);
      return true;
    }
    case 'ENTRYPOINT': {
      const args = commandArgs(state, instruction.command);
      config.Entrypoint = args;
      // An inherited CMD was written for the old entrypoint; one set in this stage was meant for the new.
      if (!state.cmdSet) delete config.Cmd;
      commitHistory(ctx, state, `ENTRYPOINT ${goQuotedList(args)}`, false);
      return true;
    }
    case 'HEALTHCHECK':
      dispatchHealthcheck(ctx, state, instruction);
      return true;
    case 'ONBUILD':
      // Stored for images built FROM this one; BuildKit writes no history for it.
      config.OnBuild = [...(config.OnBuild ?? []), instruction.expression];
      return true;
    default:
      return false;
  }
}

/**
 * Every key and value of one ENV is expanded before any is set: `ENV A=2 B=$A`
 * gives B the A from before the instruction (the Dockerfile reference's ENV
 * example; BuildKit's dispatch runs EnvCommand.Expand over all pairs with the
 * state's env, then dispatchEnv sets them). ARG differs: it expands pair by pair.
 */
function dispatchEnv(ctx: LowerContext, state: StageState, instruction: EnvInstruction): void {
  const pairs = instruction.variables.map(({ key, value }) => ({
    name: expandIn(ctx, state, key),
    expanded: expandIn(ctx, state, value),
  }));
  const written: string[] = [];
  for (const { name, expanded } of pairs) {
    envSet(state.env, name, expanded);
    state.image.config.Env = addEnvEntry(state.image.config.Env ?? [], name, expanded);
    written.push(`${name}=${expanded}`);
  }
  commitHistory(ctx, state, `ENV ${written.join(' ')}`, false);
}

/**
 * ARG in a stage: a build arg wins over the default; without either, a global
 * ARG of the same name gives its value. The value joins the stage's variables
 * (so it reaches RUN and later expansions, after any ENV of the same name set
 * before it, as in BuildKit) but never the image's Env.
 */
function dispatchArg(ctx: LowerContext, state: StageState, instruction: ArgInstruction): void {
  const written: string[] = [];
  for (const arg of instruction.args) {
    ctx.consumed.add(arg.key);
    let value: string | undefined;
    const buildArg = ctx.buildArgs.get(arg.key);
    if (buildArg !== undefined) value = buildArg;
    else if (arg.value !== undefined) value = expandIn(ctx, state, arg.value);
    else value = ctx.globalArgs.get(arg.key);
    if (value !== undefined) envSet(state.env, arg.key, value);
    const existing = state.buildArgs.findIndex((declared) => declared.key === arg.key);
    if (existing >= 0) state.buildArgs.splice(existing, 1, { key: arg.key, value });
    else state.buildArgs.push({ key: arg.key, value });
    written.push(value === undefined ? arg.key : `${arg.key}=${value}`);
  }
  commitHistory(ctx, state, `ARG ${written.join(' ')}`, false);
}

function dispatchLabel(ctx: LowerContext, state: StageState, instruction: LabelInstruction): void {
  const labels = { ...state.image.config.Labels };
  const written: string[] = [];
  for (const { key, value } of instruction.labels) {
    const name = expandIn(ctx, state, key);
    const expanded = expandIn(ctx, state, value);
    labels[name] = expanded;
    written.push(`${name}=${expanded}`);
  }
  state.image.config.Labels = labels;
  commitHistory(ctx, state, `LABEL ${written.join(' ')}`, false);
}

function dispatchExpose(
  ctx: LowerContext,
  state: StageState,
  instruction: ExposeInstruction,
): void {
  const specs = instruction.ports.flatMap((word) => expandListIn(ctx, state, word));
  const ports = specs.flatMap(parsePortSpec);
  state.image.config.ExposedPorts = {
    ...state.image.config.ExposedPorts,
    ...Object.fromEntries(ports.map((port) => [port, {}])),
  };
  commitHistory(ctx, state, `EXPOSE ${goList(ports)}`, false);
}

function dispatchHealthcheck(
  ctx: LowerContext,
  state: StageState,
  instruction: HealthcheckInstruction,
): void {
  const command = instruction.command;
  const test =
    command === undefined
      ? ['NONE']
      : command.form === 'exec'
        ? ['CMD', ...command.args]
        : ['CMD-SHELL', command.script];
  const duration = (flag: string, value: string | undefined): number => {
    if (value === undefined || value === '') return 0;
    const nanos = parseGoDuration(value);
    if (nanos < 0)
      throw lowerError('TB_DOCKERFILE_FLAG_VALUE', `Interval "${flag}" cannot be negative`);
    if (nanos !== 0 && nanos < 1e6) {
      throw lowerError('TB_DOCKERFILE_FLAG_VALUE', `Interval "${flag}" cannot be less than 1ms`);
    }
    return nanos;
  };
  const interval = duration('interval', instruction.interval);
  const timeout = duration('timeout', instruction.timeout);
  const startPeriod = duration('start-period', instruction.startPeriod);
  const startInterval = duration('start-interval', instruction.startInterval);
  let retries = 0;
  if (instruction.retries !== undefined && instruction.retries !== '') {
    if (!/^-?\d+$/.test(instruction.retries)) {
      throw lowerError(
        'TB_DOCKERFILE_FLAG_VALUE',
        `invalid --retries value "${instruction.retries}": expected an integer`,
      );
    }
    retries = Number(instruction.retries);
    if (retries < 0)
      throw lowerError(
        'TB_DOCKERFILE_FLAG_VALUE',
        `--retries cannot be negative (${String(retries)})`,
      );
  }
  const health: NonNullable<WorkingContainerConfig['Healthcheck']> = {
    Test: test,
    ...(interval === 0 ? {} : { Interval: interval }),
    ...(timeout === 0 ? {} : { Timeout: timeout }),
    ...(startPeriod === 0 ? {} : { StartPeriod: startPeriod }),
    ...(startInterval === 0 ? {} : { StartInterval: startInterval }),
    ...(retries === 0 ? {} : { Retries: retries }),
  };
  state.image.config.Healthcheck = health;
  const text =
    `{Test:${goList(test)} Interval:${formatGoDuration(interval)} Timeout:${formatGoDuration(timeout)} ` +
    `StartPeriod:${formatGoDuration(startPeriod)} StartInterval:${formatGoDuration(startInterval)} Retries:${String(retries)}}`;
  commitHistory(ctx, state, `HEALTHCHECK ${text}`, false);
}

const SIGNALS = new Set([
  'ABRT',
  'ALRM',
  'BUS',
  'CHLD',
  'CLD',
  'CONT',
  'FPE',
  'HUP',
  'ILL',
  'INT',
  'IO',
  'IOT',
  'KILL',
  'PIPE',
  'POLL',
  'PROF',
  'PWR',
  'QUIT',
  'SEGV',
  'STKFLT',
  'STOP',
  'SYS',
  'TERM',
  'TRAP',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'USR1',
  'USR2',
  'VTALRM',
  'WINCH',
  'XCPU',
  'XFSZ',
]);

/** moby/sys/signal.ParseSignal: a number, `NAME`, `SIGNAME` or `SIGRTMIN+n`. */
function checkSignal(signal: string): void {
  if (/^\d+$/.test(signal)) {
    if (Number(signal) === 0)
      throw lowerError('TB_DOCKERFILE_ARGUMENTS', `invalid signal: ${signal}`);
    return;
  }
  const name = signal.toUpperCase().replace(/^SIG/, '');
  if (SIGNALS.has(name) || /^RTMIN(\+\d+)?$/.test(name) || /^RTMAX(-\d+)?$/.test(name)) return;
  throw lowerError(
    'TB_DOCKERFILE_ARGUMENTS',
    `invalid signal: ${signal}`,
    'use a signal name such as SIGTERM or a number',
  );
}
