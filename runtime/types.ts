import type { Writable } from 'node:stream';
import type { Logger } from '../core/index.js';

/**
 * The root filesystem of a step: an overlay of read-only lower directories (the
 * parent snapshots, top-most first, as overlayfs lists them) under a writable upper
 * directory that receives the step's changes (whiteouts for deletions). Contract:
 * upperDir should be fresh for the step (mount stubs are cleaned from it after the
 * run); workDir must be an empty directory on the same filesystem as upperDir.
 */
export interface OverlayRootfs {
  readonly lowerDirs: readonly string[];
  readonly upperDir: string;
  readonly workDir: string;
}

/** Cache mount sharing, as `RUN --mount=type=cache,sharing=…`. */
export type CacheSharing = 'shared' | 'private' | 'locked';

/**
 * What a step sees besides its rootfs. Every `target` is an absolute path inside
 * the sandbox, resolved inside the rootfs (symlinks cannot redirect it outside).
 * Missing targets are created as stubs and removed from the upper dir afterwards.
 */
export type SandboxMount =
  | {
      readonly type: 'bind';
      readonly source: string;
      readonly target: string;
      readonly readonly?: boolean;
    }
  | {
      /** A persistent directory shared across builds; `private` gets its own copy while another run holds it. */
      readonly type: 'cache';
      readonly source: string;
      readonly target: string;
      readonly sharing: CacheSharing;
      readonly readonly?: boolean;
    }
  | { readonly type: 'tmpfs'; readonly target: string; readonly sizeBytes?: number }
  | {
      /** A file on its own tmpfs, bound read-only; its bytes never touch the disk or the layer. */
      readonly type: 'secret';
      readonly target: string;
      readonly data: Uint8Array;
      readonly uid?: number;
      readonly gid?: number;
      readonly mode?: number;
    }
  | {
      /** A host SSH agent socket made visible at `target` (set SSH_AUTH_SOCK in env). */
      readonly type: 'ssh';
      readonly socketPath: string;
      readonly target: string;
    };

/**
 * `default`: a network namespace of the step's own with `eth0`, behind the host's NAT:
 * outbound access and DNS, nothing of the host's own (docs/runtime.md "Network").
 * `none`: a new network namespace with only `lo`, up. `host`: the host's namespace and
 * its resolv.conf unchanged.
 */
export type NetworkMode = 'default' | 'none' | 'host';

export interface ProcessSpec {
  /** argv; argv[0] is looked up in the step's PATH inside the sandbox. */
  readonly args: readonly string[];
  /** `KEY=value` entries; duplicates resolve to the last. PATH and HOME get defaults when absent. */
  readonly env: readonly string[];
  /** Absolute; created (0755, owned by the user) if missing. Default `/`. */
  readonly cwd?: string;
  /** `name`, `uid`, `name:group` or `uid:gid`, resolved in the rootfs's /etc/passwd and /etc/group. Default root. */
  readonly user?: string;
}

export interface ResourceLimits {
  readonly memoryBytes?: number;
  readonly pids?: number;
  /** CPU time as a number of CPUs (0.5 = half of one). */
  readonly cpus?: number;
}

export interface RunSpec {
  readonly rootfs: OverlayRootfs;
  readonly mounts?: readonly SandboxMount[];
  readonly process: ProcessSpec;
  readonly network?: NetworkMode;
  /** Default `buildkitsandbox`, as BuildKit. */
  readonly hostname?: string;
  /** Extra /etc/hosts entries (`--add-host`). */
  readonly extraHosts?: readonly { readonly host: string; readonly ip: string }[];
  readonly limits?: ResourceLimits;
  /** Bytes of the step's /dev/shm tmpfs; default 64 MiB, as Docker. */
  readonly shmSize?: number;
  /** setrlimit for the command, by name (`nofile`, `core`…; see rlimits.ts); -1 is unlimited. */
  readonly ulimits?: readonly {
    readonly name: string;
    readonly soft: number;
    readonly hard: number;
  }[];
}

export interface RunOptions {
  /** Aborting kills the whole process tree (within a second) and removes every mount. */
  readonly signal: AbortSignal;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
  /** Called once, just before the step's processes start (after its setup). */
  readonly onStart?: (step: RunningStep) => void;
}

/** A step whose processes are running, as handed to RunOptions.onStart. */
export interface RunningStep {
  /**
   * Cumulative CPU time of the step's processes so far, in nanoseconds (from its
   * cgroup: v1 cpuacct.usage, v2 cpu.stat usage_usec). Undefined when it cannot be
   * measured (no cgroups: not root, read-only cgroupfs) and once the run settles.
   */
  cpuTimeNs(): number | undefined;
  /**
   * The step's threads right now: how many, and how many are running or waiting
   * for a CPU (state R). Undefined when they cannot be listed (no cgroup v2
   * hierarchy, hybrid hosts included) and once the run settles.
   */
  threads(): { readonly total: number; readonly runnable: number } | undefined;
  /**
   * Stops every process of the step where it is (true) or lets them go on
   * (false), with the cgroup v2 freezer; a stopped process uses no CPU and
   * still dies of SIGKILL. False when the step cannot be frozen (no cgroup v2
   * hierarchy, Linux before 5.2) and once the run settles.
   */
  freeze(frozen: boolean): boolean;
}

export interface RunTiming {
  /** Wall time from spawning the helper to its exit, in milliseconds. */
  readonly totalMs: number;
  readonly startedAt: Date;
}

export interface RunResult {
  /** The command's exit status; 128+n when it was killed by signal n (as a shell reports it). */
  readonly exitCode: number;
  /** The signal that killed the command, if one did. */
  readonly signal: NodeJS.Signals | undefined;
  /** The cgroup memory limit was hit and the kernel OOM-killed a process of the step. */
  readonly oomKilled: boolean;
  readonly timing: RunTiming;
}

/**
 * Runs one RUN step. Contract: resolves with the command's status whatever it is
 * (a non-zero exit is not an error); rejects with TbuildError TB_CANCELED when the
 * signal aborts, TB_RUNTIME_EXEC when the command cannot start, TB_RUNTIME_USER when
 * the user is unknown, TB_RUNTIME_SANDBOX when the sandbox cannot be set up. After it
 * settles no process of the step is alive and no mount of it remains.
 */
export interface Executor {
  run(spec: RunSpec, options: RunOptions): Promise<RunResult>;
  /** Releases what the executor keeps for its steps (the default network's host side). */
  close?(): Promise<void>;
}

export interface SandboxExecutorOptions {
  /** The sandboxes' rootfs mount point and their hosts and resolv.conf files. Keep it short: overlay options are limited to a page. */
  readonly stateDir: string;
  readonly logger?: Logger;
  /** The host resolv.conf to derive the sandbox's from. Default /etc/resolv.conf. */
  readonly hostResolvConf?: string;
  /**
   * Where the default network keeps its per-namespace lock (runtime/network/). Machine-wide
   * on purpose: every tbuild process of a network namespace shares one nftables table.
   * Default /run/tbuild/network.
   */
  readonly networkStateDir?: string;
}
