import { closestMatch, isTbuildError, TbuildError } from '../../core/index.js';
import type { Platform } from '../../solver/ir/index.js';
import { parseInstruction, type Instruction } from '../dockerfile/index.js';
import { withSource, type SourceText } from './errors.js';
import { normalizeImageRef } from './image-ref.js';
import { addCommands, checkCycles, reachableStages, type StageTable } from './stages.js';
import type { StageState } from './state.js';
import type { ImageMetaResolver, ResolvedImage } from './types.js';

export interface ResolveContext {
  readonly table: StageTable;
  readonly text: SourceText;
  readonly escape: '\\' | '`';
  readonly resolver: ImageMetaResolver;
  readonly platform: Platform;
  readonly signal: AbortSignal;
}

/**
 * Resolves the base images of the stages the targets need (in parallel, each
 * image once) and splices in their ONBUILD triggers. Triggers may read other
 * stages or images, so this repeats until no new stage becomes reachable.
 */
export async function resolveStages(
  ctx: ResolveContext,
  targets: readonly StageState[],
): Promise<Set<StageState>> {
  const cache = new Map<string, Promise<ResolvedImage>>();
  for (;;) {
    const reachable = new Set(targets.flatMap((target) => [...reachableStages(target)]));
    await Promise.all(
      [...reachable]
        .filter((state) => state.base === undefined && state.resolved === undefined)
        .map(async (state) => {
          state.resolved = await resolveBase(ctx, state, cache);
        }),
    );
    let grew = false;
    for (const state of ctx.table.states) {
      if (!reachable.has(state) || state.onbuildDone) continue;
      if (state.base !== undefined && !reachable.has(state.base)) continue;
      state.onbuildDone = true;
      const triggers = onbuildTriggers(state);
      if (triggers.length === 0) continue;
      const range = state.from?.range ?? { startLine: 1, endLine: 1 };
      const instructions: Instruction[] = triggers.map((trigger) => {
        try {
          const parsed = parseInstruction(trigger, { file: ctx.text.file, escape: ctx.escape });
          return { ...parsed, range };
        } catch (error) {
          throw withSource(error, ctx.text, range);
        }
      });
      if (addCommands(state, instructions, true, ctx.table, ctx.text, ctx.platform)) grew = true;
    }
    if (!grew) return reachable;
    checkCycles(ctx.table, ctx.text);
  }
}

/** A base image's ONBUILD expressions, or the ONBUILD instructions of a base stage. */
function onbuildTriggers(state: StageState): string[] {
  if (state.base !== undefined) {
    return state.base.commands.flatMap(({ instruction }) =>
      instruction.kind === 'ONBUILD' ? [instruction.expression] : [],
    );
  }
  return state.resolved === undefined || state.resolved === 'scratch'
    ? []
    : [...(state.resolved.config?.config.OnBuild ?? [])];
}

async function resolveBase(
  ctx: ResolveContext,
  state: StageState,
  cache: Map<string, Promise<ResolvedImage>>,
): Promise<ResolvedImage | 'scratch'> {
  // A named directory context has no image to resolve: it starts from empty, as scratch.
  if (state.baseName === 'scratch' || state.localSource !== undefined) return 'scratch';
  const range = state.from?.range ?? state.origin ?? { startLine: 1, endLine: 1 };
  let ref: string;
  try {
    ref = normalizeImageRef(state.baseName);
  } catch (error) {
    throw withSource(error, ctx.text, range);
  }
  const platform = state.platform ?? ctx.platform;
  const key = `${ref} ${JSON.stringify(platform)}`;
  let pending = cache.get(key);
  if (pending === undefined) {
    pending = ctx.resolver.resolve(ref, { platform, signal: ctx.signal });
    cache.set(key, pending);
  }
  try {
    return await pending;
  } catch (error) {
    if (!isTbuildError(error) || error.code === 'TB_CANCELED') throw error;
    const names = ctx.table.fileStages.flatMap((stage) =>
      stage.alias === undefined ? [] : [stage.alias],
    );
    const closest = closestMatch(state.baseName, names);
    throw withSource(
      closest === undefined ? error : withStageSuggestion(error, closest),
      ctx.text,
      range,
    );
  }
}

/**
 * A name that failed as an image but is one typo away from a stage (`--from=buidler`
 * beside `AS builder`) was most likely meant as the stage, so that suggestion comes
 * first, whatever the registry said (not found, refused, unreachable); the image's own
 * hint stays after it.
 */
function withStageSuggestion(error: TbuildError, stage: string): TbuildError {
  const suggestion = `did you mean stage "${stage}"?`;
  return new TbuildError(error.code, error.message, {
    cause: error,
    hint: error.hint === undefined ? suggestion : `${suggestion} (else: ${error.hint})`,
    details: { ...error.details, suggestion: stage },
    ...(error.source === undefined ? {} : { source: error.source }),
  });
}
