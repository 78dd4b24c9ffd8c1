import { existsSync, mkdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TbuildError } from '../core/index.js';
import type { ResourceLimits } from './types.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const CGROUP_ROOT = '/sys/fs/cgroup';
/** Where hybrid hosts mount the v2 hierarchy (no controllers, but CPU accounting). */
const HYBRID_UNIFIED = join(CGROUP_ROOT, 'unified');

/**
 * A per-step cgroup nested under tbuild's own (so the parent's limits still apply),
 * on cgroup v2 or on v1 (one directory per controller; hybrid hosts use v1 for the
 * controllers, research/sandbox.md §3). Besides limits it accounts the step's CPU
 * time, which tells the solver when the step is idle (RunOptions.onStart).
 *
 * The helper clones the sandbox's PID 1 straight into `cloneInto` (v2 only) and
 * writes it into `procsFiles` before it starts the command. Cloning in is free;
 * moving a process waits for an RCU grace period (~10 ms per step on a busy host),
 * so accounting uses the v2 hierarchy wherever there is one, hybrid hosts included.
 */
export interface StepCgroup {
  readonly version: 1 | 2;
  readonly procsFiles: readonly string[];
  readonly cloneInto: string | undefined;
  /** True once the kernel OOM-killed a process in it. */
  oomKilled(): boolean;
  /** Cumulative CPU time of its processes in nanoseconds; undefined if it cannot be read. */
  cpuTimeNs(): number | undefined;
  /** Its threads right now (RunningStep.threads); undefined without a v2 hierarchy. */
  threads(): StepThreads | undefined;
  /** Freezes or thaws its processes (RunningStep.freeze); false without a v2 hierarchy. */
  freeze(frozen: boolean): boolean;
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

/** `key N` in a flat keyed file (memory.events, cpu.stat), or undefined if absent or unreadable. */
function counterOrUndefined(file: string, key: string): number | undefined {
  try {
    const match = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'));
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

function counter(file: string, key: string): number {
  return counterOrUndefined(file, key) ?? 0;
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

/**
 * Creates the step's cgroup. With limits, failing to is an error. Without, the
 * cgroup only accounts CPU time and is best effort: undefined when cgroups are
 * unavailable (not root, read-only cgroupfs, no cpuacct controller).
 */
export function createStepCgroup(
  id: string,
  limits: ResourceLimits | undefined,
): StepCgroup | undefined {
  try {
    return isCgroup2(CGROUP_ROOT) ? createV2(id, limits ?? {}) : createV1(id, limits ?? {});
  } catch (error) {
    if (!hasLimits(limits)) return undefined;
    if (error instanceof TbuildError) throw error;
    throw unavailable((error as Error).message, error);
  }
}

function hasLimits(limits: ResourceLimits | undefined): boolean {
  return (
    limits !== undefined &&
    (limits.memoryBytes !== undefined || limits.pids !== undefined || limits.cpus !== undefined)
  );
}

/** A counter file holding one integer (cpuacct.usage), or undefined if it cannot be read. */
function readNumber(file: string): number | undefined {
  try {
    const value = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** `usage_usec` of a v2 cgroup's cpu.stat (kept by the core, no controller needed), in ns. */
function v2CpuTimeNs(dir: string): number | undefined {
  const usec = counterOrUndefined(join(dir, 'cpu.stat'), 'usage_usec');
  return usec === undefined ? undefined : usec * 1000;
}

/** How many threads a step has and how many of them want a CPU (state R: running or runnable). */
export interface StepThreads {
  readonly total: number;
  readonly runnable: number;
}

/**
 * The threads of a v2 cgroup and their scheduler states, from cgroup.threads and
 * /proc/<tid>/stat. A thread that exits between the two reads is not counted.
 */
function v2Threads(dir: string): StepThreads | undefined {
  let tids: string[];
  try {
    tids = readFileSync(join(dir, 'cgroup.threads'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  let total = 0;
  let runnable = 0;
  for (const tid of tids) {
    if (tid === '') continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${tid}/stat`, 'latin1');
    } catch {
      continue;
    }
    total += 1;
    // The state follows the command name, which is in parentheses and may hold any byte.
    if (stat.charAt(stat.lastIndexOf(')') + 2) === 'R') runnable += 1;
  }
  return { total, runnable };
}

/** cgroup v2's freezer (cgroup.freeze, no controller needed; Linux 5.2+). */
function v2Freeze(dir: string, frozen: boolean): boolean {
  try {
    writeFileSync(join(dir, 'cgroup.freeze'), frozen ? '1' : '0');
    return true;
  } catch {
    return false;
  }
}

function removeV2Dir(dir: string): void {
  // Stragglers (a daemon the step left behind) die with the cgroup.
  if (existsSync(join(dir, 'cgroup.kill'))) writeFileSync(join(dir, 'cgroup.kill'), '1');
  removeDir(dir);
}

function createV2(id: string, limits: ResourceLimits): StepCgroup {
  const parent = join(CGROUP_ROOT, ownPaths().get('') ?? '/', 'tbuild');
  mkdirSync(parent, { recursive: true });
  // v2 forbids processes in inner nodes with controllers: enable them for our own subtree only.
  // CPU accounting needs no controller, so plain steps skip this.
  if (hasLimits(limits)) {
    writeFileSync(join(parent, 'cgroup.subtree_control'), '+memory +pids +cpu');
  }
  const dir = join(parent, id);
  mkdirSync(dir);
  try {
    if (limits.memoryBytes !== undefined) {
      writeFileSync(join(dir, 'memory.max'), String(limits.memoryBytes));
      writeFileSync(join(dir, 'memory.swap.max'), '0');
    }
    if (limits.pids !== undefined) writeFileSync(join(dir, 'pids.max'), String(limits.pids));
    if (limits.cpus !== undefined) {
      writeFileSync(join(dir, 'cpu.max'), `${String(Math.round(limits.cpus * 100_000))} 100000`);
    }
  } catch (error) {
    removeDir(dir);
    throw error;
  }
  return {
    version: 2,
    procsFiles: [],
    cloneInto: dir,
    oomKilled: () => counter(join(dir, 'memory.events'), 'oom_kill') > 0,
    cpuTimeNs: () => v2CpuTimeNs(dir),
    threads: () => v2Threads(dir),
    freeze: (frozen) => v2Freeze(dir, frozen),
    remove: () => {
      removeV2Dir(dir);
    },
  };
}

/** v1 limits; CPU accounting in the hybrid v2 hierarchy when there is one, else cpuacct. */
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
  let unified: string | undefined;
  const removeAll = (): void => {
    for (const dir of dirs.values()) removeDir(dir);
    if (unified !== undefined) removeV2Dir(unified);
  };
  try {
    applyV1Limits(limits, controllerDir);
    let cpuTimeNs: () => number | undefined = () => undefined;
    try {
      if (isCgroup2(HYBRID_UNIFIED)) {
        const dir = join(HYBRID_UNIFIED, own.get('') ?? '/', 'tbuild', id);
        mkdirSync(dir, { recursive: true });
        unified = dir;
        cpuTimeNs = () => v2CpuTimeNs(dir);
      } else {
        const dir = controllerDir('cpuacct');
        cpuTimeNs = () => readNumber(join(dir, 'cpuacct.usage'));
      }
    } catch (error) {
      // Accounting is required only when it is the cgroup's sole purpose.
      if (!hasLimits(limits)) throw error;
    }
    const memory = dirs.get('memory');
    return {
      version: 1,
      procsFiles: [...dirs.values()].map((dir) => join(dir, 'cgroup.procs')),
      cloneInto: unified,
      oomKilled: () =>
        memory !== undefined && counter(join(memory, 'memory.oom_control'), 'oom_kill') > 0,
      cpuTimeNs,
      threads: () => (unified === undefined ? undefined : v2Threads(unified)),
      freeze: (frozen) => unified !== undefined && v2Freeze(unified, frozen),
      remove: removeAll,
    };
  } catch (error) {
    removeAll();
    throw error;
  }
}

function applyV1Limits(limits: ResourceLimits, controllerDir: (name: string) => string): void {
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
}
