import type { Platform } from '../../solver/ir/index.js';
import type {
  FromInstruction,
  Instruction,
  ParsedStage,
  SourceRange,
} from '../dockerfile/index.js';
import type { WorkingImage } from './image.js';
import type { PlanRef } from './plan.js';
import type { ResolvedImage } from './types.js';

/** One instruction to dispatch, with the stages it reads (`COPY --from`, `RUN --mount from=`). */
export interface StageCommand {
  readonly instruction: Instruction;
  /** From a base image's ONBUILD trigger: shown as `ONBUILD …` in step names. */
  readonly onbuild: boolean;
  /** COPY: `[source]`; RUN: one entry per --mount (undefined when the mount reads no stage). */
  readonly sources: readonly (StageState | undefined)[];
}

/** Declared build argument of a stage, in declaration order (for `RUN |N K=V …` history). */
export interface DeclaredArg {
  readonly key: string;
  readonly value: string | undefined;
}

/** A stage of the Dockerfile, or an image named by `COPY --from`/`--mount from=` (synthetic). */
export interface StageState {
  /** Position among all states: Dockerfile stages first, then synthetic ones. */
  readonly position: number;
  /** Index in the Dockerfile (what `--from=N` means); undefined for synthetic states. */
  readonly fileIndex: number | undefined;
  readonly alias: string | undefined;
  readonly parsed: ParsedStage | undefined;
  readonly from: FromInstruction | undefined;
  /** Where a synthetic state was first named (its COPY or RUN), for errors. */
  readonly origin: SourceRange | undefined;
  /** FROM's image after expansion, or the image a synthetic state stands for. */
  baseName: string;
  /** A named context's local source this state starts from (`--build-context NAME=DIR`). */
  localSource: { readonly name: string; readonly excludePatterns: readonly string[] } | undefined;
  /** FROM --platform, expanded. */
  platform: Platform | undefined;
  base: StageState | undefined;
  commands: StageCommand[];
  readonly deps: Set<StageState>;
  resolved: ResolvedImage | 'scratch' | undefined;
  onbuildDone: boolean;
  /** Step display: `[name i/total]`. */
  displayName: string;
  cmdTotal: number;
  cmdIndex: number;

  dispatched: boolean;
  fs: PlanRef | undefined;
  image: WorkingImage;
  /** Values for expansion and RUN: image Env, ENV and ARG values, in order. */
  env: [string, string][];
  workdir: string;
  user: string;
  buildArgs: DeclaredArg[];
  /** CMD was set in this stage, so a later ENTRYPOINT keeps it. */
  cmdSet: boolean;
  /** Number of ssh mounts so far, for default targets `/run/buildkit/ssh_agent.N`. */
  sshCount: number;
}

export function envGet(env: readonly [string, string][], key: string): string | undefined {
  for (const [name, value] of env) if (name === key) return value;
  return undefined;
}

/** Sets a variable in place, or appends it: the order Docker keeps in Config.Env. */
export function envSet(env: [string, string][], key: string, value: string): void {
  const entry = env.find(([name]) => name === key);
  if (entry === undefined) env.push([key, value]);
  else entry[1] = value;
}

export function addEnvEntry(list: string[], key: string, value: string): string[] {
  const index = list.findIndex((entry) => entry.split('=', 1)[0] === key);
  const out = [...list];
  if (index >= 0) out[index] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}
