import path from 'node:path/posix';
import type { ExecOp, Mount } from '../../solver/ir/index.js';
import type { Heredoc, RunInstruction, RunMountFlag } from '../dockerfile/index.js';
import { withShell } from './config-instructions.js';
import { commitHistory, expandIn, stepName, vertexMeta, type LowerContext } from './context.js';
import { lowerError } from './errors.js';
import { withStep, writtenWithHeredocs } from './step-meta.js';
import { cleanPath, goPathClean } from './paths.js';
import { CONTEXT, InputList, planNode } from './plan.js';
import type { Entitlement } from './types.js';
import { envGet, type StageCommand, type StageState } from './state.js';

/** `<<-EOF`: strip leading tabs from every line. */
export function chompHeredoc(doc: Heredoc): string {
  return doc.chomp ? doc.content.replace(/^\t+/gm, '') : doc.content;
}

const SINGLE_HEREDOC = /^<<-?(["']?)([^\s"']+)\1$/;

export function dispatchRun(
  ctx: LowerContext,
  state: StageState,
  command: StageCommand,
  instruction: RunInstruction,
): void {
  const inputs = new InputList();
  const mounts: Mount[] = [];
  const rootIndex = state.fs === undefined ? undefined : inputs.add(state.fs);
  mounts.push({
    type: 'bind',
    target: '/',
    ...(rootIndex === undefined ? {} : { input: rootIndex }),
    selector: '/',
    readonly: false,
    output: true,
  });

  let args: string[];
  let nameSuffix = '';
  const cmd = instruction.command;
  if (cmd.form === 'exec') {
    args = [...cmd.args];
  } else if (instruction.heredocs.length > 0) {
    const first = instruction.heredocs[0];
    if (
      instruction.heredocs.length === 1 &&
      first !== undefined &&
      SINGLE_HEREDOC.test(cmd.script.trim())
    ) {
      const data = chompHeredoc(first);
      if (data.startsWith('#!')) {
        // A script with its own interpreter: written to a file and executed, as BuildKit does.
        const file = planNode(
          {
            kind: 'file',
            actions: [{ action: 'mkfile', path: `/${first.name}`, mode: 0o755, data }],
          },
          [],
          vertexMeta(ctx, '[internal] preparing inline document', instruction.range),
        );
        mounts.push({
          type: 'bind',
          target: '/dev/pipes',
          input: inputs.add(file),
          selector: '/',
          readonly: true,
          output: false,
        });
        args = withShell(state, path.join('/dev/pipes', first.name));
      } else {
        args = withShell(state, data);
      }
      nameSuffix = ` (${summarizeHeredoc(first.content)})`;
    } else {
      let script = cmd.script;
      for (const doc of instruction.heredocs) script += `\n${doc.content}${doc.name}`;
      args = withShell(state, script);
    }
  } else {
    args = withShell(state, cmd.script);
  }

  instruction.mounts.forEach((mount, index) => {
    mounts.push(lowerMount(ctx, state, mount, command.sources[index], inputs));
  });

  checkEntitlements(ctx, instruction);
  const env = state.env.map(([key, value]) => `${key}=${value}`);
  const op: ExecOp = {
    kind: 'exec',
    args,
    env,
    cwd: state.workdir,
    user: state.user,
    network: instruction.network ?? ctx.network,
    security: instruction.security ?? 'sandbox',
    platform: state.platform ?? ctx.platform,
    extraHosts: ctx.extraHosts,
    ...ctx.runLimits,
    mounts,
    ...(ctx.proxyEnv.length === 0 ? {} : { proxyEnv: ctx.proxyEnv }),
    ...(ctx.session !== undefined && mounts.some(isSessionMount) ? { session: ctx.session } : {}),
  };
  const name = stepName(state, instruction.original + nameSuffix, command.onbuild);
  // A RUN's environment holds every ARG and ENV of the stage: all of them are in its key.
  const meta = withStep(
    vertexMeta(ctx, name, instruction.range),
    state,
    writtenWithHeredocs(instruction.original, instruction.heredocs),
    { all: true },
  );
  state.fs = planNode(op, inputs.refs, meta);
  commitHistory(ctx, state, `RUN ${runHistoryText(state, args)}`, true, true);
}

/**
 * Secret and ssh mounts are served by the build's session, not by the store;
 * so may a cache mount be (filled from the build's imported caches,
 * `cache-mounts=true`). The session is not part of the step's cache key.
 */
function isSessionMount(mount: Mount): boolean {
  return mount.type === 'secret' || mount.type === 'ssh' || mount.type === 'cache';
}

/**
 * A Dockerfile may not widen its own sandbox: a RUN that asks for the host's
 * network or for an insecure sandbox needs the user's `--allow`, as in BuildKit.
 */
function checkEntitlements(ctx: LowerContext, instruction: RunInstruction): void {
  const wanted: Entitlement[] = [];
  if (instruction.network === 'host') wanted.push('network.host');
  if (instruction.security === 'insecure') wanted.push('security.insecure');
  for (const entitlement of wanted) {
    if (ctx.entitlements.has(entitlement)) continue;
    const flag = entitlement === 'network.host' ? '--network=host' : '--security=insecure';
    throw lowerError(
      'TB_ENTITLEMENT_DENIED',
      `RUN ${flag} needs the ${entitlement} entitlement, which this build was not given`,
      `allow it with \`tbuild build --allow ${entitlement}\` if you trust this Dockerfile`,
    );
  }
}

/** `|N K=V … args`: the declared build args in effect, as BuildKit's runCommandString. */
function runHistoryText(state: StageState, args: readonly string[]): string {
  const pairs = state.buildArgs.map(
    ({ key, value }) => `${key}=${envGet(state.env, key) ?? value ?? ''}`,
  );
  const prefix = pairs.length === 0 ? [] : [`|${String(pairs.length)}`, ...pairs];
  return [...prefix, ...args].join(' ');
}

function summarizeHeredoc(doc: string): string {
  const lines = doc.trim().split(/\r?\n/);
  return (lines[0] ?? '') + (lines.length > 1 ? '...' : '');
}

function lowerMount(
  ctx: LowerContext,
  state: StageState,
  mount: RunMountFlag,
  source: StageState | undefined,
  inputs: InputList,
): Mount {
  const option = (name: string): string | undefined => {
    const value = mount.options[name];
    return value === undefined ? undefined : expandIn(ctx, state, value);
  };
  const flag = (names: readonly string[]): boolean | undefined => {
    for (const name of names) {
      const value = option(name);
      if (value !== undefined) return parseBool(name, value);
    }
    return undefined;
  };
  const number = (name: string, fallback: number, radix = 10): number => {
    const value = option(name);
    if (value === undefined) return fallback;
    const pattern = radix === 8 ? /^[0-7]+$/ : /^\d+$/;
    if (!pattern.test(value)) {
      throw lowerError('TB_DOCKERFILE_FLAG_VALUE', `invalid value for --mount ${name}: "${value}"`);
    }
    return Number.parseInt(value, radix);
  };
  const absolute = (target: string): string =>
    path.isAbsolute(target) ? path.normalize(target) : path.join('/', state.workdir, target);
  const readonlyFlag = flag(['readonly', 'ro']);
  const writable = flag(['rw', 'readwrite']);
  const readonly = readonlyFlag ?? (writable === undefined ? undefined : !writable);
  const fromInput = (): number | undefined => {
    if (source === undefined) return undefined;
    return source.fs === undefined ? undefined : inputs.add(source.fs);
  };

  switch (mount.type) {
    case 'bind':
    case 'cache': {
      const rawTarget = option('target');
      if (rawTarget === undefined || rawTarget === '') {
        throw lowerError('TB_DOCKERFILE_FLAG_VALUE', `--mount type=${mount.type} needs a target`);
      }
      const target = absolute(rawTarget);
      if (target === '/')
        throw lowerError('TB_DOCKERFILE_FLAG_VALUE', `invalid mount target "${rawTarget}"`);
      const selector = cleanPath(option('source') ?? '');
      if (mount.type === 'bind') {
        let input: number | undefined;
        if (mount.options['from'] === undefined) {
          input = inputs.add(CONTEXT);
          ctx.contextPaths.add(selector);
        } else {
          input = fromInput();
        }
        return {
          type: 'bind',
          target,
          ...(input === undefined ? {} : { input }),
          selector,
          readonly: readonly ?? true,
          output: false,
        };
      }
      const sharing = option('sharing') ?? 'shared';
      if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked') {
        throw lowerError(
          'TB_DOCKERFILE_FLAG_VALUE',
          `unsupported sharing value "${sharing}"`,
          'use shared, private or locked',
        );
      }
      // With `from` and a `source`, the cache starts as that directory of the stage. With
      // `from` alone and uid, gid or mode, BuildKit starts it from a directory it makes
      // with them instead (convert_runmount.go, setCacheUIDGID): an empty one, as without
      // `from`.
      const ownerOrMode = ['uid', 'gid', 'mode'].some((key) => mount.options[key] !== undefined);
      const input = selector === '/' && ownerOrMode ? undefined : fromInput();
      return {
        type: 'cache',
        target,
        // BuildKit's default id is path.Clean(target): `/c/` and `/c` share one cache.
        id: option('id') ?? goPathClean(rawTarget),
        sharing,
        ...(input === undefined ? {} : { input }),
        selector,
        readonly: readonly ?? false,
        uid: number('uid', 0),
        gid: number('gid', 0),
        mode: number('mode', 0o755, 8),
      };
    }
    case 'tmpfs': {
      const rawTarget = option('target');
      if (rawTarget === undefined || rawTarget === '') {
        throw lowerError('TB_DOCKERFILE_FLAG_VALUE', '--mount type=tmpfs needs a target');
      }
      const size = option('size');
      return {
        type: 'tmpfs',
        target: absolute(rawTarget),
        size: size === undefined ? 0 : parseBytes(size),
      };
    }
    case 'secret': {
      const rawTarget = option('target');
      const env = option('env');
      const id = option('id') ?? (rawTarget === undefined ? undefined : path.basename(rawTarget));
      if (id === undefined || id === '') {
        throw lowerError('TB_DOCKERFILE_FLAG_VALUE', '--mount type=secret needs an id or a target');
      }
      const target =
        rawTarget !== undefined
          ? absolute(rawTarget)
          : env === undefined
            ? `/run/secrets/${id}`
            : undefined;
      return {
        type: 'secret',
        id,
        ...(target === undefined ? {} : { target }),
        ...(env === undefined ? {} : { env }),
        required: flag(['required']) ?? false,
        uid: number('uid', 0),
        gid: number('gid', 0),
        mode: number('mode', 0o400, 8),
      };
    }
    case 'ssh': {
      const rawTarget = option('target');
      const target =
        rawTarget === undefined
          ? `/run/buildkit/ssh_agent.${String(state.sshCount)}`
          : absolute(rawTarget);
      state.sshCount += 1;
      return {
        type: 'ssh',
        id: option('id') ?? 'default',
        target,
        required: flag(['required']) ?? false,
        uid: number('uid', 0),
        gid: number('gid', 0),
        mode: number('mode', 0o600, 8),
      };
    }
  }
}

function parseBool(name: string, value: string): boolean {
  const lower = value.toLowerCase();
  if (['true', '1', 't'].includes(lower)) return true;
  if (['false', '0', 'f'].includes(lower)) return false;
  throw lowerError(
    'TB_DOCKERFILE_FLAG_VALUE',
    `invalid value for --mount ${name}: "${value}" (expected true or false)`,
  );
}

/** docker/go-units RAMInBytes: `64m`, `1g`, `512kb`, plain bytes; binary multiples. */
export function parseBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(text.trim());
  if (match === null) throw lowerError('TB_DOCKERFILE_FLAG_VALUE', `invalid size: "${text}"`);
  const units = ['', 'k', 'm', 'g', 't', 'p'];
  const power = units.indexOf((match[2] ?? '').toLowerCase());
  return Math.floor(Number(match[1]) * 1024 ** power);
}
