import type { ExecOp, NetworkMode, Platform, VertexMeta } from '../../solver/ir/index.js';
import { expandWord, expandWords } from '../shell/index.js';
import type { SourceText } from './errors.js';
import type { DispatchChecks } from '../checks/index.js';
import type { Entitlement } from './types.js';
import { envGet, type StageState } from './state.js';

/** Everything dispatch needs that is shared by all stages of one lowering. */
export interface LowerContext {
  readonly text: SourceText;
  readonly escape: '\\' | '`';
  readonly platform: Platform;
  readonly buildArgs: ReadonlyMap<string, string>;
  readonly globalArgs: ReadonlyMap<string, string>;
  /** Build args some ARG declared (for the "not consumed" warning). */
  readonly consumed: Set<string>;
  readonly epoch: number | undefined;
  readonly noCache: boolean;
  readonly network: NetworkMode;
  readonly extraHosts: readonly string[];
  /** The build's `--shm-size` and `--ulimit`, for every RUN (absent: the sandbox's defaults). */
  readonly runLimits: Pick<ExecOp, 'shmSize' | 'ulimits'>;
  readonly entitlements: ReadonlySet<Entitlement>;
  /** Absolute context paths read by COPY, ADD and bind mounts (`/` = all). */
  readonly contextPaths: Set<string>;
  /** Proxy build args as `KEY=value`, given to every RUN outside its cache key. */
  readonly proxyEnv: readonly string[];
  readonly warnings: string[];
  /** The build session (LowerOptions.session), for RUN steps with secret or ssh mounts. */
  readonly session?: string;
  /** Build checks run while dispatching (LowerOptions.linter); absent: none. */
  readonly checks?: DispatchChecks;
  /** Names the current instruction's expansions looked up and did not find (UndefinedVar). */
  readonly missing: Set<string>;
}

/** The stage's variables; a name not found is noted for the UndefinedVar check. */
export function stateLookup(
  ctx: LowerContext,
  state: StageState,
): (name: string) => string | undefined {
  return (name) => {
    const value = envGet(state.env, name);
    if (value === undefined) ctx.missing.add(name);
    return value;
  };
}

export function expandIn(ctx: LowerContext, state: StageState, word: string): string {
  return expandWord(word, stateLookup(ctx, state), { escape: ctx.escape });
}

/** EXPOSE's words: BuildKit expands them without noting unset names, so no UndefinedVar. */
export function expandListIn(ctx: LowerContext, state: StageState, text: string): string[] {
  return expandWords(text, (name) => envGet(state.env, name), { escape: ctx.escape });
}

/** `[name i/n] COMMAND …`, as BuildKit's prefixCommand; advances the stage's step counter. */
export function stepName(
  state: StageState,
  text: string,
  onbuild: boolean,
  advance = true,
): string {
  const command = uppercaseFirstWord(text);
  if (state.cmdTotal === 0) return command;
  if (advance) state.cmdIndex += 1;
  const width = String(state.cmdTotal).length;
  const prefix = state.displayName === '' ? '' : `${state.displayName} `;
  const index = String(state.cmdIndex).padStart(width);
  return `[${prefix}${index}/${String(state.cmdTotal)}] ${onbuild ? 'ONBUILD ' : ''}${command}`;
}

function uppercaseFirstWord(text: string): string {
  const space = text.indexOf(' ');
  return space < 0 ? text.toUpperCase() : text.slice(0, space).toUpperCase() + text.slice(space);
}

export function vertexMeta(
  ctx: LowerContext,
  name: string,
  range: { readonly startLine: number; readonly endLine: number } | undefined,
): VertexMeta {
  return {
    name,
    ...(range === undefined
      ? {}
      : { source: { file: ctx.text.file, startLine: range.startLine, endLine: range.endLine } }),
    ...(ctx.noCache ? { ignoreCache: true } : {}),
  };
}

export function historyTime(ctx: LowerContext): { created?: string } {
  return ctx.epoch === undefined
    ? {}
    : { created: new Date(ctx.epoch * 1000).toISOString().replace('.000Z', 'Z') };
}

export function commitHistory(
  ctx: LowerContext,
  state: StageState,
  createdBy: string,
  withLayer: boolean,
  buildkitSuffix = false,
): void {
  state.image.history.push({
    ...historyTime(ctx),
    created_by: buildkitSuffix ? `${createdBy} # buildkit` : createdBy,
    comment: 'buildkit.dockerfile.v0',
    ...(withLayer ? {} : { empty_layer: true }),
  });
}
