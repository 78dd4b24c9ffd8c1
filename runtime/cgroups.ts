import { existsSync, mkdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TbuildError } from '../core/index.js';
import type { ResourceLimits } from './types.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * A per-step cgroup nested under tbuild's own (so the parent's limits still apply),
 * on cgroup v2 or on v1 (one directory per controller; hybrid hosts use v1 for the
 * controllers, research/sandbox.md §3). The helper writes the sandbox's PID 1 into
 * `procsFiles` before it starts the command.
 */
export interface StepCgroup {
  readonly version: 1 | 2;
  readonly procsFiles: readonly string[];
  /** True once the kernel OOM-killed a process in it. */
  oomKilled(): boolean;
  /** Removes the directories (after the step's processes are gone). */
  remove(): void;
}

function ownPaths(): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (controllers === undefined || path === undefined) continue;
    for (const name of controllers === '' ? [''] : controllers.split(',')) paths.set(name, path);
  }
  return paths;
}

function isCgroup2(path: string): boolean {
  try {
    return statfsSync(path).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

function counter(file: string, key: string): number {
  try {
    const match = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'));
    return match?.[1] === undefined ? 0 : Number(match[1]);
  } catch {
    return 0;
  }
}

function removeDir(path: string): void {
  // A killed process leaves its cgroup a moment after it is reaped: retry briefly.
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      rmdirSync(path);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

function unavailable(why: string, cause?: unknown): TbuildError {
  return new TbuildError('TB_RUNTIME_CGROUP', `cannot create a cgroup for the step: ${why}`, {
    hint: 'resource limits need root and a writable cgroup v1 or v2 hierarchy',
    cause,
  });
}

/** Creates the step's cgroup with the limits; returns undefined when no limit was asked for. */
export function createStepCgroup(
  id: string,
  limits: ResourceLimits | undefined,
): StepCgroup | undefined {
  if (limits === undefined) return undefined;
  if (limits.memoryBytes === undefined && limits.pids === undefined && limits.cpus === undefined) {
    return undefined;
  }
  try {
    return isCgroup2(CGROUP_ROOT) ? createV2(id, limits) : createV1(id, limits);
  } catch (error) {
    if (error instanceof TbuildError) throw error;
    throw unavailable((error as Error).message, error);
  }
}

function createV2(id: string, limits: ResourceLimits): StepCgroup {
  const parent = join(CGROUP_ROOT, ownPaths().get('') ?? '/', 'tbuild');
  mkdirSync(parent, { recursive: true });
  // v2 forbids processes in inner nodes with controllers: enable them for our own subtree only.
  writeFileSync(join(parent, 'cgroup.subtree_control'), '+memory +pids +cpu');
  const dir = join(parent, id);
  mkdirSync(dir);
  if (limits.memoryBytes !== undefined) {
    writeFileSync(join(dir, 'memory.max'), String(limits.memoryBytes));
    writeFileSync(join(dir, 'memory.swap.max'), '0');
  }
  if (limits.pids !== undefined) writeFileSync(join(dir, 'pids.max'), String(limits.pids));
  if (limits.cpus !== undefined) {
    writeFileSync(join(dir, 'cpu.max'), `${String(Math.round(limits.cpus * 100_000))} 100000`);
  }
  return {
    version: 2,
    procsFiles: [join(dir, 'cgroup.procs')],
    oomKilled: () => counter(join(dir, 'memory.events'), 'oom_kill') > 0,
    remove: () => {
      if (existsSync(join(dir, 'cgroup.kill'))) writeFileSync(join(dir, 'cgroup.kill'), '1');
      removeDir(dir);
    },
  };
}

function createV1(id: string, limits: ResourceLimits): StepCgroup {
  const own = ownPaths();
  const dirs = new Map<string, string>();
  const controllerDir = (name: string): string => {
    const existing = dirs.get(name);
    if (existing !== undefined) return existing;
    const mount = join(CGROUP_ROOT, name);
    if (!existsSync(mount)) throw unavailable(`no v1 ${name} controller at ${mount}`);
    const dir = join(mount, own.get(name) ?? '/', 'tbuild', id);
    mkdirSync(dir, { recursive: true });
    dirs.set(name, dir);
    return dir;
  };
  if (limits.memoryBytes !== undefined) {
    const dir = controllerDir('memory');
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limits.memoryBytes));
    // Without this the step swaps instead of hitting the limit.
    if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) {
      writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
    }
  }
  if (limits.pids !== undefined) {
    writeFileSync(join(controllerDir('pids'), 'pids.max'), String(limits.pids));
  }
  if (limits.cpus !== undefined) {
    const dir = controllerDir('cpu');
    writeFileSync(join(dir, 'cpu.cfs_period_us'), '100000');
    writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(Math.round(limits.cpus * 100_000)));
  }
  const memory = dirs.get('memory');
  return {
    version: 1,
    procsFiles: [...dirs.values()].map((dir) => join(dir, 'cgroup.procs')),
    oomKilled: () =>
      memory !== undefined && counter(join(memory, 'memory.oom_control'), 'oom_kill') > 0,
    remove: () => {
      for (const dir of dirs.values()) removeDir(dir);
    },
  };
}
