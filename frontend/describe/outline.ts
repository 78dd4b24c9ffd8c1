import { encodeRawText } from '../../core/index.js';
import type { Instruction, ParsedDockerfile, SourceRange } from '../dockerfile/index.js';
import { docComment, precedingComments } from '../checks/index.js';
import { expandWord } from '../shell/index.js';
import type { Platform } from '../../solver/ir/index.js';
import { DEFAULT_PLATFORM, platformArgs } from '../convert/platform.js';
import { locationOf, type Outline, type OutlineArg, type OutlineMount } from './types.js';

export interface OutlineOptions {
  /** Stage name; the last stage when absent. */
  readonly target?: string;
  readonly buildArgs: ReadonlyMap<string, string>;
  /** The target platform (the automatic TARGETPLATFORM etc.); default linux/amd64. */
  readonly platform?: Platform;
}

interface ArgInfo {
  readonly key: string;
  readonly value: string | undefined;
  readonly description: string;
  readonly range: SourceRange;
  /** Global ARGs its default reads: using this one uses them too. */
  readonly deps: ReadonlySet<string>;
}

interface MountInfo {
  readonly required: boolean;
  readonly range: SourceRange;
}

interface StageOutline {
  readonly used: Set<string>;
  readonly args: Map<string, ArgInfo>;
  readonly secrets: Map<string, MountInfo>;
  readonly ssh: Map<string, MountInfo>;
  base: number | undefined;
  readonly deps: Set<number>;
}

const TRUE_WORDS = new Set(['true', '1', 't']);

/**
 * `--call=outline`: the build args the target can be given (each once, with its
 * default and description), and the secrets and ssh agents its RUN steps mount,
 * following the target's base and the stages it copies from (BuildKit's
 * dispatchState.Outline). Read from the file alone: no base image is resolved.
 */
export function outlineTarget(
  parsed: ParsedDockerfile,
  options: OutlineOptions,
  source: string,
): Outline {
  const escape = parsed.directives.escape;
  const comments = precedingComments(parsed);
  const describe = (at: Instruction, key: string): string =>
    docComment(comments.get(at.range.startLine), key);

  // Global ARGs, as buildMetaArgs: each default expanded with the ones before it.
  const platform = options.platform ?? DEFAULT_PLATFORM;
  const globalValues = new Map(platformArgs(platform, platform));
  const globals = new Map<string, ArgInfo>();
  for (const instruction of parsed.globalArgs) {
    for (const arg of instruction.args) {
      const given = options.buildArgs.get(arg.key);
      const deps = new Set<string>();
      let value = given;
      if (given === undefined && arg.value !== undefined) {
        value = expandWord(
          arg.value,
          (name) => {
            const found = globalValues.get(name);
            if (found !== undefined && name !== arg.key) deps.add(name);
            return found;
          },
          { escape },
        );
        if (arg.value.includes(arg.key))
          for (const dep of globals.get(arg.key)?.deps ?? []) deps.add(dep);
      }
      globals.set(arg.key, {
        key: arg.key,
        value,
        description: describe(instruction, arg.key),
        range: instruction.range,
        deps,
      });
      if (value !== undefined) globalValues.set(arg.key, value);
    }
  }

  const byName = new Map<string, number>();
  const stages: StageOutline[] = [];
  parsed.stages.forEach(({ from, instructions }, index) => {
    const used = new Set<string>();
    const fromGlobals = (name: string): string | undefined => {
      const found = globalValues.get(name);
      if (found !== undefined) used.add(name);
      return found;
    };
    const image = safeExpand(from.image, fromGlobals, escape);
    if (from.platform !== undefined) safeExpand(from.platform, fromGlobals, escape);
    const base = byName.get(image.toLowerCase());
    const inherited = base === undefined ? undefined : stages[base];
    const stage: StageOutline = {
      used: new Set([...(inherited?.used ?? []), ...used]),
      args: new Map(inherited?.args ?? []),
      secrets: new Map(inherited?.secrets ?? []),
      ssh: new Map(inherited?.ssh ?? []),
      base,
      deps: new Set(),
    };
    const variables = new Map<string, string>();
    const stageIndexOf = (name: string): number | undefined =>
      /^\d+$/.test(name) ? Number(name) : byName.get(name.toLowerCase());
    for (const instruction of instructions) {
      if (instruction.kind === 'ARG') {
        for (const arg of instruction.args) {
          const given = options.buildArgs.get(arg.key);
          stage.used.add(arg.key);
          // `ARG NAME` alone in a stage uses the global ARG of that name.
          if (given === undefined && arg.value === undefined && globalValues.has(arg.key)) {
            const inheritedValue = globalValues.get(arg.key);
            if (inheritedValue !== undefined) variables.set(arg.key, inheritedValue);
            continue;
          }
          const value =
            given ??
            (arg.value === undefined
              ? undefined
              : safeExpand(arg.value, (name) => variables.get(name), escape));
          if (value !== undefined) variables.set(arg.key, value);
          stage.args.set(arg.key, {
            key: arg.key,
            value,
            description: describe(instruction, arg.key),
            range: instruction.range,
            deps: new Set(),
          });
        }
      } else if (instruction.kind === 'ENV') {
        for (const { key, value } of instruction.variables)
          variables.set(
            key,
            safeExpand(value, (name) => variables.get(name), escape),
          );
      } else if (instruction.kind === 'COPY' && instruction.from !== undefined) {
        const dep = stageIndexOf(instruction.from);
        if (dep !== undefined && dep < index) stage.deps.add(dep);
      } else if (instruction.kind === 'RUN') {
        for (const mount of instruction.mounts) {
          const from = mount.options['from'];
          const dep = from === undefined ? undefined : stageIndexOf(from);
          if (dep !== undefined && dep < index) stage.deps.add(dep);
          const required = TRUE_WORDS.has((mount.options['required'] ?? 'false').toLowerCase());
          if (mount.type === 'secret') {
            const target = mount.options['target'];
            const id = mount.options['id'] ?? (target === undefined ? '' : baseName(target));
            if (id !== '') stage.secrets.set(id, { required, range: instruction.range });
          } else if (mount.type === 'ssh') {
            stage.ssh.set(mount.options['id'] ?? 'default', { required, range: instruction.range });
          }
        }
      }
    }
    stages.push(stage);
    if (from.alias !== undefined) byName.set(from.alias, index);
  });

  const targetIndex =
    options.target === undefined || options.target === ''
      ? stages.length - 1
      : (byName.get(options.target.toLowerCase()) ?? stages.length - 1);
  const targetFrom = parsed.stages[targetIndex]?.from;

  const args: OutlineArg[] = [];
  const secrets: OutlineMount[] = [];
  const ssh: OutlineMount[] = [];
  const seen = { args: new Set<string>(), secrets: new Set<string>(), ssh: new Set<string>() };
  const visited = new Set<number>();
  const visit = (index: number | undefined): void => {
    if (index === undefined || visited.has(index)) return;
    visited.add(index);
    const stage = stages[index];
    if (stage === undefined) return;
    const lookup = (key: string): ArgInfo | undefined => stage.args.get(key) ?? globals.get(key);
    for (const key of withDeps(stage.used, lookup)) {
      const info = lookup(key);
      if (info === undefined || seen.args.has(key)) continue;
      seen.args.add(key);
      args.push({
        name: info.key,
        ...(info.description === '' ? {} : { description: info.description }),
        ...(info.value === undefined || info.value === '' ? {} : { value: info.value }),
        location: locationOf(info.range),
      });
    }
    for (const [name, info] of stage.secrets) {
      if (seen.secrets.has(name)) continue;
      seen.secrets.add(name);
      secrets.push(mountOutline(name, info));
    }
    for (const [name, info] of stage.ssh) {
      if (seen.ssh.has(name)) continue;
      seen.ssh.add(name);
      ssh.push(mountOutline(name, info));
    }
    visit(stage.base);
    for (const dep of stage.deps) visit(dep);
  };
  visit(targetIndex);

  const byLine = <
    T extends {
      readonly location?: {
        readonly ranges: readonly { readonly start: { readonly line: number } }[];
      };
    },
  >(
    list: T[],
  ): T[] =>
    list.sort(
      (a, b) => (a.location?.ranges[0]?.start.line ?? 0) - (b.location?.ranges[0]?.start.line ?? 0),
    );
  const name = targetFrom?.alias;
  const description =
    targetFrom === undefined || name === undefined ? '' : describe(targetFrom, name);
  return {
    ...(name === undefined ? {} : { name }),
    ...(description === '' ? {} : { description }),
    ...(args.length === 0 ? {} : { args: byLine(args) }),
    ...(secrets.length === 0 ? {} : { secrets: byLine(secrets) }),
    ...(ssh.length === 0 ? {} : { ssh: byLine(ssh) }),
    sources: [Buffer.from(encodeRawText(source)).toString('base64')],
  };
}

/** The used names plus, transitively, the global ARGs their defaults read. */
function withDeps(
  used: ReadonlySet<string>,
  lookup: (key: string) => ArgInfo | undefined,
): Set<string> {
  const all = new Set<string>();
  const add = (key: string): void => {
    if (all.has(key)) return;
    all.add(key);
    for (const dep of lookup(key)?.deps ?? []) add(dep);
  };
  for (const key of used) add(key);
  return all;
}

function mountOutline(name: string, info: MountInfo): OutlineMount {
  return { name, ...(info.required ? { required: true } : {}), location: locationOf(info.range) };
}

function baseName(target: string): string {
  const parts = target.split('/').filter((part) => part !== '');
  return parts.at(-1) ?? '';
}

/** Expansion for the outline only: a malformed word counts as itself (the build reports it). */
function safeExpand(
  word: string,
  lookup: (name: string) => string | undefined,
  escape: '\\' | '`',
): string {
  try {
    return expandWord(word, lookup, { escape });
  } catch {
    return word;
  }
}
