import type { Instruction, WorkdirInstruction } from '../dockerfile/index.js';
import { dispatchConfigInstruction } from './config-instructions.js';
import { checkView, readsContext } from './check-view.js';
import { commitHistory, expandIn, stepName, vertexMeta, type LowerContext } from './context.js';
import { dispatchCopy } from './copy.js';
import { lowerError, withSource } from './errors.js';
import { cloneWorkingImage, DEFAULT_PATH_ENV, emptyImage, workingImageOf } from './image.js';
import { parseChown } from './copy.js';
import { joinWorkdir } from './paths.js';
import { planNode } from './plan.js';
import { dispatchRun } from './run.js';
import { stageLabel } from './stages.js';
import { withStep } from './step-meta.js';
import type { StageState } from './state.js';

/** Instructions that create an op, and so a numbered step. */
const STEP_KINDS: ReadonlySet<Instruction['kind']> = new Set(['RUN', 'COPY', 'ADD', 'WORKDIR']);

/** Counts a stage's numbered steps, as BuildKit: its own FROM image, RUN/COPY/ADD/WORKDIR, every ONBUILD trigger. */
export function countSteps(state: StageState): number {
  // Images named by --from are not stages of the file: only their triggers are numbered.
  const ownFrom =
    state.fileIndex !== undefined &&
    state.base === undefined &&
    state.baseName !== 'scratch' &&
    state.localSource === undefined;
  let total = ownFrom ? 1 : 0;
  for (const command of state.commands) {
    if (command.onbuild || STEP_KINDS.has(command.instruction.kind)) total += 1;
  }
  return total;
}

/** Starts a stage from its base: another stage's result, an image, or scratch. */
export function initStage(ctx: LowerContext, state: StageState): void {
  const platform = state.platform ?? ctx.platform;
  ctx.checks?.startStage(state, state.base);
  if (state.base !== undefined) {
    const base = state.base;
    state.fs = base.fs;
    state.image = cloneWorkingImage(base.image);
    delete state.image.config.OnBuild;
    state.env = base.env.map(([key, value]) => [key, value]);
    state.workdir = base.workdir;
    state.user = base.user;
    state.buildArgs = [...base.buildArgs];
    state.platform = base.platform;
  } else {
    const resolved = state.resolved;
    if (state.localSource !== undefined) {
      state.image = emptyImage(platform);
      state.fs = planNode(
        {
          kind: 'source',
          source: {
            type: 'local',
            name: state.localSource.name,
            ...(ctx.session === undefined ? {} : { session: ctx.session }),
            excludePatterns: [...state.localSource.excludePatterns],
            followPaths: [],
          },
        },
        [],
        vertexMeta(ctx, `[context ${state.baseName}] load from client`, undefined),
      );
    } else if (resolved === undefined || resolved === 'scratch') {
      state.image = emptyImage(platform);
      state.fs = undefined;
    } else {
      state.image =
        resolved.config === undefined
          ? { ...emptyImage(platform), config: {} }
          : workingImageOf(resolved.config);
      delete state.image.config.OnBuild;
      const layers = resolved.config?.rootfs.diff_ids.length ?? 1;
      const historyLayers = (resolved.config?.history ?? []).some(
        (entry) => entry.empty_layer !== true,
      );
      if (layers === 0 && !historyLayers) {
        state.fs = undefined;
      } else {
        const name = stepName(state, `FROM ${resolved.ref}`, false);
        state.fs = planNode(
          { kind: 'source', source: { type: 'image', ref: resolved.ref, platform } },
          [],
          withStep(vertexMeta(ctx, name, state.from?.range), state, state.from?.original ?? name, {
            all: false,
            globalArgs: ctx.globalArgs,
          }),
        );
      }
    }
    const env = state.image.config.Env ?? [];
    if (!env.some((entry) => entry.startsWith('PATH=')))
      state.image.config.Env = [...env, DEFAULT_PATH_ENV];
    state.env = (state.image.config.Env ?? []).map((entry) => {
      const equals = entry.indexOf('=');
      return equals < 0 ? [entry, ''] : [entry.slice(0, equals), entry.slice(equals + 1)];
    });
    state.workdir = joinWorkdir('/', state.image.config.WorkingDir ?? '/');
    state.user = state.image.config.User ?? '';
    state.platform = platform;
  }
  state.cmdSet = false;
}

export function dispatchStage(ctx: LowerContext, state: StageState): void {
  for (const command of state.commands) {
    const instruction = command.instruction;
    try {
      for (const source of command.sources) {
        if (source !== undefined && source.fileIndex !== undefined && !source.dispatched) {
          throw lowerError(
            'TB_DOCKERFILE_STAGE',
            `cannot read from stage "${stageLabel(source)}": it must be defined before the current stage "${stageLabel(state)}"`,
          );
        }
      }
      const checks = ctx.checks;
      const view = checks === undefined ? undefined : checkView(ctx, state);
      if (checks !== undefined && view !== undefined)
        checks.instruction(state, view, instruction, readsContext(command));
      ctx.missing.clear();
      switch (instruction.kind) {
        case 'RUN':
          dispatchRun(ctx, state, command, instruction);
          break;
        case 'COPY':
        case 'ADD':
          dispatchCopy(ctx, state, command, instruction);
          break;
        case 'WORKDIR':
          dispatchWorkdir(ctx, state, instruction, command.onbuild);
          break;
        case 'FROM':
          throw lowerError(
            'TB_DOCKERFILE_ARGUMENTS',
            'FROM cannot be used here (an ONBUILD trigger?)',
          );
        default:
          dispatchConfigInstruction(ctx, state, instruction);
      }
      if (checks !== undefined && view !== undefined)
        checks.undefinedVariables(view, instruction.range, ctx.missing);
    } catch (error) {
      throw withSource(error, ctx.text, instruction.range);
    }
  }
  state.dispatched = true;
}

/** WORKDIR: a mkdir (with parents, owned by the current USER) unless the directory is `/`. */
function dispatchWorkdir(
  ctx: LowerContext,
  state: StageState,
  instruction: WorkdirInstruction,
  onbuild: boolean,
): void {
  const requested = expandIn(ctx, state, instruction.path);
  if (requested === '') throw lowerError('TB_DOCKERFILE_ARGUMENTS', 'WORKDIR needs a path');
  const workdir = joinWorkdir(state.workdir, requested);
  state.workdir = workdir;
  state.image.config.WorkingDir = workdir;
  if (workdir === '/') {
    commitHistory(ctx, state, `WORKDIR ${workdir}`, false);
    return;
  }
  const name = stepName(state, instruction.original, onbuild);
  const owner = state.user === '' ? undefined : parseChown(state.user);
  state.fs = planNode(
    {
      kind: 'file',
      ...(state.fs === undefined ? {} : { base: 0 }),
      actions: [
        {
          action: 'mkdir',
          path: workdir,
          mode: 0o755,
          makeParents: true,
          ...(owner === undefined ? {} : { owner }),
          ...(ctx.epoch === undefined ? {} : { timestamp: ctx.epoch }),
        },
      ],
    },
    state.fs === undefined ? [] : [state.fs],
    withStep(vertexMeta(ctx, name, instruction.range), state, instruction.original, {
      all: false,
    }),
  );
  commitHistory(ctx, state, `WORKDIR ${workdir}`, true);
}
