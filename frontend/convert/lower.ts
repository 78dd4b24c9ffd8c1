import path from 'node:path/posix';
import { throwIfAborted } from '../../core/index.js';
import type { ParsedDockerfile } from '../dockerfile/index.js';
import {
  DispatchChecks,
  ignoredByDockerignore,
  runFromChecks,
  runParseChecks,
} from '../checks/index.js';
import { expandWord } from '../shell/index.js';
import { vertexMeta, type LowerContext } from './context.js';
import { countSteps, dispatchStage, initStage } from './dispatch.js';
import { withSource, type SourceText } from './errors.js';
import type { LoweredImageConfig } from './image.js';
import { materialize } from './plan.js';
import { DEFAULT_PLATFORM, platformArgs, PROXY_ARGS } from './platform.js';
import { resolveStages } from './resolve.js';
import { addCommands, buildStageTable, checkCycles, resolveTarget } from './stages.js';
import type { StageState } from './state.js';
import type { LoweredBuild, LoweredStage, LowerOptions, StageBase } from './types.js';
import { wellFormedJson } from './well-formed.js';
import { normalizeImageRef } from './image-ref.js';
import { parsePlatform } from './platform.js';

/**
 * Lowers a parsed Dockerfile to IR and an image config, as BuildKit's
 * dockerfile2llb: global ARGs and FROM expansion, stage graph and cycle check,
 * the target and only the stages it needs (their base images resolved in
 * parallel, ONBUILD triggers spliced in), then each stage's instructions.
 */
export async function lowerDockerfile(
  parsed: ParsedDockerfile,
  options: LowerOptions,
): Promise<LoweredBuild> {
  throwIfAborted(options.signal);
  const text: SourceText = { file: options.file ?? parsed.file, lines: parsed.lines };
  const escape = parsed.directives.escape;
  const platform = options.platform ?? DEFAULT_PLATFORM;
  const buildPlatform = options.buildPlatform ?? platform;
  const buildArgs = options.buildArgs ?? new Map<string, string>();
  const consumed = new Set<string>([...PROXY_ARGS, 'SOURCE_DATE_EPOCH']);

  const automatic = platformArgs(platform, buildPlatform);
  for (const [key] of automatic) consumed.add(key);
  const globalArgs = new Map<string, string>(automatic);
  for (const instruction of parsed.globalArgs) {
    for (const arg of instruction.args) {
      consumed.add(arg.key);
      try {
        const value =
          buildArgs.get(arg.key) ??
          (arg.value === undefined
            ? undefined
            : expandWord(arg.value, (name) => globalArgs.get(name), { escape }));
        if (value !== undefined) globalArgs.set(arg.key, value);
      } catch (error) {
        throw withSource(error, text, instruction.range);
      }
    }
  }
  if (options.linter !== undefined) {
    runParseChecks(parsed, options.linter);
    runFromChecks(
      {
        stages: parsed.stages,
        globalArgs: parsed.globalArgs,
        automaticArgs: new Map(automatic),
        globalValues: globalArgs,
        expand: (word, lookup) => expandWord(word, lookup, { escape }),
        isImageRef: (ref) => succeeds(() => normalizeImageRef(ref)),
        platformOf: (value) => {
          try {
            return parsePlatform(value);
          } catch {
            return undefined;
          }
        },
      },
      options.linter,
    );
  }
  const epochArg = buildArgs.get('SOURCE_DATE_EPOCH') ?? globalArgs.get('SOURCE_DATE_EPOCH');
  const epoch =
    options.sourceDateEpoch ??
    (epochArg !== undefined && /^\d+$/.test(epochArg) ? Number(epochArg) : undefined);

  const table = buildStageTable(
    parsed,
    text,
    globalArgs,
    (word, lookup) => expandWord(word, lookup, { escape }),
    platform,
    options.namedContexts,
  );
  for (const state of table.fileStages) {
    addCommands(state, state.parsed?.instructions ?? [], false, table, text, platform);
  }
  checkCycles(table, text);
  const target = resolveTarget(table, options.target);
  const reachable = await resolveStages(
    { table, text, escape, resolver: options.resolver, platform, signal: options.signal },
    options.allStages === true ? table.fileStages : [target],
  );
  throwIfAborted(options.signal);
  if (table.states.length === 1) for (const state of table.states) state.displayName = '';

  const ctx: LowerContext = {
    text,
    escape,
    platform,
    buildArgs,
    globalArgs,
    consumed,
    epoch,
    noCache: options.noCache === true,
    network: options.network ?? 'default',
    extraHosts: options.extraHosts ?? [],
    runLimits: {
      ...(options.shmSize === undefined ? {} : { shmSize: options.shmSize }),
      ...(options.ulimits === undefined || options.ulimits.length === 0
        ? {}
        : { ulimits: options.ulimits }),
    },
    entitlements: new Set(options.entitlements ?? []),
    contextPaths: new Set(),
    proxyEnv: [...buildArgs]
      .filter(([key]) => PROXY_ARGS.has(key))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => `${key}=${value}`),
    warnings: [],
    ...(options.session === undefined ? {} : { session: options.session }),
    ...(options.linter === undefined
      ? {}
      : {
          checks: new DispatchChecks(
            options.linter,
            ignoredByDockerignore(options.dockerignore ?? []),
          ),
        }),
    missing: new Set(),
  };
  // Images named by --from come first: they read nothing, and stages read them.
  const order = [...table.states.filter((s) => s.fileIndex === undefined), ...table.fileStages];
  for (const state of order) {
    if (!reachable.has(state)) continue;
    state.cmdTotal = countSteps(state);
    initStage(ctx, state);
    dispatchStage(ctx, state);
  }

  const unused = [...buildArgs.keys()]
    .filter((key) => !consumed.has(key) && !key.startsWith('BUILDKIT_'))
    .sort();
  if (unused.length > 0)
    ctx.warnings.push(`One or more build-args [${unused.join(' ')}] were not consumed`);

  const contextPaths = ctx.contextPaths.has('/')
    ? ['.']
    : [...ctx.contextPaths].map((p) => path.join('.', p)).sort();
  const [root] = materialize(
    [target.fs],
    {
      type: 'local',
      name: options.contextName ?? 'context',
      ...(options.session === undefined ? {} : { session: options.session }),
      excludePatterns: [...(options.dockerignore ?? [])],
      followPaths: contextPaths[0] === '.' ? [] : contextPaths,
    },
    vertexMeta(ctx, '[internal] load build context', undefined),
  );
  return {
    root,
    image: wellFormedJson(finalImage(target, platform, epoch)),
    contextPaths,
    stages: table.fileStages.map((state) => stageInfo(state, reachable, platform)),
    target: target.fileIndex ?? 0,
    warnings: ctx.warnings,
  };
}

function succeeds(work: () => unknown): boolean {
  try {
    work();
    return true;
  } catch {
    return false;
  }
}

function finalImage(
  target: StageState,
  platform: LowerOptions['platform'] & object,
  epoch: number | undefined,
): LoweredImageConfig {
  const image = target.image;
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant === undefined ? {} : { variant: platform.variant }),
    ...(image.author === undefined ? {} : { author: image.author }),
    ...(epoch === undefined
      ? {}
      : { created: new Date(epoch * 1000).toISOString().replace('.000Z', 'Z') }),
    config: image.config,
    history: image.history,
  };
}

function stageInfo(
  state: StageState,
  reachable: ReadonlySet<StageState>,
  platform: NonNullable<LowerOptions['platform']>,
): LoweredStage {
  let base: StageBase;
  if (state.base !== undefined) base = { kind: 'stage', index: state.base.fileIndex ?? 0 };
  else if (state.baseName === 'scratch') base = { kind: 'scratch' };
  else
    base = {
      kind: 'image',
      ref: typeof state.resolved === 'object' ? state.resolved.ref : state.baseName,
    };
  return {
    index: state.fileIndex ?? 0,
    ...(state.alias === undefined ? {} : { name: state.alias }),
    base,
    platform: state.platform ?? platform,
    reachable: reachable.has(state),
  };
}
