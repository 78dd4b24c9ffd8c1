import { closestMatch } from '../../core/index.js';
import type { Instruction, ParsedDockerfile } from '../dockerfile/index.js';
import { emptyImage } from './image.js';
import { dockerfileError, lowerError, withSource, type SourceText } from './errors.js';
import { parsePlatform } from './platform.js';
import type { StageCommand, StageState } from './state.js';
import type { Platform } from '../../solver/ir/index.js';
import { findNamedContext } from './named-context.js';
import type { NamedContext } from './types.js';

export type Expand = (word: string, lookup: (name: string) => string | undefined) => string;

/** All states by position, and Dockerfile stages by lower-cased alias. */
export interface StageTable {
  readonly states: StageState[];
  readonly byName: Map<string, StageState>;
  readonly fileStages: readonly StageState[];
  /** `--build-context` names: each replaces the stage or image of that name. */
  readonly named: ReadonlyMap<string, NamedContext>;
}

export function newState(
  position: number,
  fields: Pick<
    StageState,
    'fileIndex' | 'alias' | 'parsed' | 'from' | 'origin' | 'baseName' | 'platform'
  >,
  defaultPlatform: Platform,
): StageState {
  return {
    position,
    ...fields,
    base: undefined,
    localSource: undefined,
    commands: [],
    deps: new Set(),
    resolved: undefined,
    onbuildDone: false,
    displayName: '',
    cmdTotal: 0,
    cmdIndex: 0,
    dispatched: false,
    fs: undefined,
    image: emptyImage(defaultPlatform),
    env: [],
    workdir: '/',
    user: '',
    buildArgs: [],
    cmdSet: false,
    sshCount: 0,
  };
}

/** Expands FROM lines with the global args and links `FROM <stage>` to earlier stages. */
export function buildStageTable(
  parsed: ParsedDockerfile,
  text: SourceText,
  globalArgs: ReadonlyMap<string, string>,
  expand: Expand,
  defaultPlatform: Platform,
  named: ReadonlyMap<string, NamedContext> = new Map(),
): StageTable {
  const states: StageState[] = [];
  const byName = new Map<string, StageState>();
  const lookup = (name: string): string | undefined => globalArgs.get(name);
  parsed.stages.forEach((stage, index) => {
    const from = stage.from;
    let baseName: string;
    let platform: Platform | undefined;
    try {
      baseName = expand(from.image, lookup);
      if (baseName === '') {
        throw lowerError(
          'TB_DOCKERFILE_ARGUMENTS',
          `base name (${from.image}) should not be blank`,
        );
      }
      if (from.platform !== undefined) {
        const value = expand(from.platform, lookup);
        if (value === '') {
          throw lowerError(
            'TB_DOCKERFILE_PLATFORM',
            `empty platform value from expression ${from.platform}`,
          );
        }
        platform = parsePlatform(value);
      }
    } catch (error) {
      throw withSource(error, text, from.range);
    }
    const state = newState(
      index,
      {
        fileIndex: index,
        alias: from.alias,
        parsed: stage,
        from,
        origin: undefined,
        baseName,
        platform,
      },
      defaultPlatform,
    );
    const namedContext = findNamedContext(named, baseName);
    if (namedContext?.kind === 'image') state.baseName = namedContext.ref;
    else if (namedContext?.kind === 'local') state.localSource = localSourceOf(namedContext);
    else state.base = byName.get(baseName.toLowerCase());
    if (from.alias !== undefined) {
      const key = from.alias.toLowerCase();
      const earlier = byName.get(key);
      if (earlier !== undefined) {
        throw dockerfileError(
          'TB_DOCKERFILE_STAGE',
          `duplicate stage name "${from.alias}" (first defined on line ${String(earlier.from?.range.startLine ?? 0)})`,
          text,
          from.range,
        );
      }
      byName.set(key, state);
    }
    state.displayName = from.alias ?? `stage-${String(index)}`;
    states.push(state);
  });
  return { states, byName, fileStages: [...states], named };
}

/**
 * The stages a command reads. A `--from` that names no stage is an image:
 * a synthetic state is added for it, as BuildKit does, so it is resolved
 * like a base image.
 */
export function commandSources(
  instruction: Instruction,
  table: StageTable,
  text: SourceText,
  defaultPlatform: Platform,
): (StageState | undefined)[] {
  const lookupSource = (from: string): StageState => {
    if (/^\d+$/.test(from)) {
      const state = table.fileStages[Number(from)];
      if (state === undefined) {
        throw dockerfileError(
          'TB_DOCKERFILE_STAGE',
          `invalid stage index ${from}`,
          text,
          instruction.range,
          `the Dockerfile has ${String(table.fileStages.length)} stages, numbered from 0`,
        );
      }
      return state;
    }
    if (/\$/.test(from)) {
      throw dockerfileError(
        'TB_DOCKERFILE_STAGE',
        'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
        text,
        instruction.range,
      );
    }
    const namedContext = findNamedContext(table.named, from);
    const named = namedContext === undefined ? table.byName.get(from.toLowerCase()) : undefined;
    if (named !== undefined) return named;
    // A named image context is that image; a named directory a state of its own.
    const baseName = namedContext?.kind === 'image' ? namedContext.ref : from;
    const localSource = namedContext?.kind === 'local' ? localSourceOf(namedContext) : undefined;
    const existing = table.states.find(
      (state) =>
        state.fileIndex === undefined &&
        state.baseName === baseName &&
        state.localSource?.name === localSource?.name,
    );
    if (existing !== undefined) return existing;
    const synthetic = newState(
      table.states.length,
      {
        fileIndex: undefined,
        alias: undefined,
        parsed: undefined,
        from: undefined,
        origin: instruction.range,
        baseName,
        platform: undefined,
      },
      defaultPlatform,
    );
    synthetic.localSource = localSource;
    table.states.push(synthetic);
    return synthetic;
  };
  if (instruction.kind === 'COPY' && instruction.from !== undefined)
    return [lookupSource(instruction.from)];
  if (instruction.kind === 'RUN') {
    return instruction.mounts.map((mount) => {
      const from = mount.options['from'];
      if (mount.type === 'tmpfs' || from === undefined || from === '') return undefined;
      if (from === 'scratch') return undefined;
      return lookupSource(from);
    });
  }
  return [];
}

export function addCommands(
  state: StageState,
  instructions: readonly Instruction[],
  onbuild: boolean,
  table: StageTable,
  text: SourceText,
  defaultPlatform: Platform,
): boolean {
  let added = false;
  const commands: StageCommand[] = instructions.map((instruction) => {
    const sources = commandSources(instruction, table, text, defaultPlatform);
    for (const source of sources) {
      if (source !== undefined) {
        state.deps.add(source);
        added = true;
      }
    }
    return { instruction, onbuild, sources };
  });
  state.commands = onbuild ? [...commands, ...state.commands] : [...state.commands, ...commands];
  return added;
}

/** Fails with the cycle spelled out when stages depend on each other. */
export function checkCycles(table: StageTable, text: SourceText): void {
  const done = new Set<StageState>();
  const path: StageState[] = [];
  const visit = (state: StageState): void => {
    if (done.has(state)) return;
    const at = path.indexOf(state);
    if (at >= 0) {
      const cycle = [...path.slice(at), state].map(stageLabel);
      const first = path[at];
      const range = first?.from?.range ?? { startLine: 1, endLine: 1 };
      throw dockerfileError(
        'TB_DOCKERFILE_STAGE',
        `circular dependency between stages: ${cycle.join(' → ')}`,
        text,
        range,
      );
    }
    path.push(state);
    if (state.base !== undefined) visit(state.base);
    for (const dep of state.deps) visit(dep);
    path.pop();
    done.add(state);
  };
  for (const state of table.states) visit(state);
}

export function stageLabel(state: StageState): string {
  return (
    state.alias ??
    (state.fileIndex === undefined ? state.baseName : `stage ${String(state.fileIndex)}`)
  );
}

export function resolveTarget(table: StageTable, target: string | undefined): StageState {
  if (target === undefined || target === '') {
    const last = table.fileStages[table.fileStages.length - 1];
    if (last === undefined)
      throw lowerError('TB_DOCKERFILE_NO_STAGES', 'the Dockerfile has no stages to build');
    return last;
  }
  const found = table.byName.get(target.toLowerCase());
  if (found !== undefined) return found;
  const names = table.fileStages.flatMap((state) =>
    state.alias === undefined ? [] : [state.alias],
  );
  const closest = closestMatch(target, names);
  throw lowerError(
    'TB_DOCKERFILE_STAGE',
    `target stage "${target}" could not be found${closest === undefined ? '' : ` (did you mean ${closest}?)`}`,
    names.length === 0
      ? 'the Dockerfile names no stages (FROM … AS name)'
      : `stages: ${names.join(', ')}`,
  );
}

/** The target and every stage it reads, directly or through bases. */
export function reachableStages(target: StageState): Set<StageState> {
  const seen = new Set<StageState>();
  const visit = (state: StageState): void => {
    if (seen.has(state)) return;
    seen.add(state);
    if (state.base !== undefined) visit(state.base);
    for (const dep of state.deps) visit(dep);
  };
  visit(target);
  return seen;
}

function localSourceOf(
  context: NamedContext & { kind: 'local' },
): NonNullable<StageState['localSource']> {
  return { name: context.name, excludePatterns: context.excludePatterns ?? [] };
}
