import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import {
  TbuildError,
  toTbuildError,
  canceledError,
  noopLogger,
  throwIfAborted,
  type Logger,
} from '../core/index.js';
import { CacheLocks } from './cache-locks.js';
import { createStepCgroup, type StepCgroup } from './cgroups.js';
import { hostsFile, resolvConf, SYSTEMD_RESOLVED_UPSTREAM } from './etc-files.js';
import { DefaultNetwork } from './network/default-network.js';
import { nativeBuildPath } from './native/addon.js';
import { argumentsTooLong, E2BIG } from './exec-limits.js';
import { relativeOverlay } from './overlay-options.js';
import { stepRlimits } from './rlimits.js';
import { readMergedFile } from './rootfs-files.js';
import { ConfigTag, ConfigWriter } from './sandbox-config.js';
import { compileSeccomp, DOCKER_DEFAULT_PROFILE, encodeBpf } from './seccomp/index.js';
import { removeMountStubs, type MountStub } from './stubs.js';
import type {
  Executor,
  RunOptions,
  RunResult,
  RunSpec,
  SandboxExecutorOptions,
  SandboxMount,
} from './types.js';
import { resolveUser } from './user.js';
import { validateSpec } from './validate.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** After SIGTERM the helper SIGKILLs the sandbox at once; this is only the backstop. */
const KILL_BACKSTOP_MS = 500;

let seccompBlob: Buffer | undefined;
const seccompProgram = (): Buffer =>
  (seccompBlob ??= encodeBpf(compileSeccomp(DOCKER_DEFAULT_PROFILE)));

let runCounter = 0;

interface HelperStatus {
  result?: { kind: 'exit' | 'signal'; value: number };
  initExit?: { kind: 'exit' | 'signal'; value: number };
  error?: string;
  execFailure?: { errno: number; message: string };
  stubs: MountStub[];
}

function parseStatus(text: string): HelperStatus {
  const status: HelperStatus = { stubs: [] };
  for (const line of text.split('\n')) {
    let match: RegExpExecArray | null;
    if ((match = /^result (exit|signal) (\d+)$/.exec(line)) !== null) {
      status.result = { kind: match[1] as 'exit' | 'signal', value: Number(match[2]) };
    } else if ((match = /^(exit|signal) (\d+)$/.exec(line)) !== null) {
      status.initExit = { kind: match[1] as 'exit' | 'signal', value: Number(match[2]) };
    } else if ((match = /^stub ([DF]) (\d+) (\d+) (.*)$/.exec(line)) !== null) {
      status.stubs.push({
        kind: match[1] === 'D' ? 'dir' : 'file',
        parentAtimeNs: BigInt(match[2] ?? '0'),
        parentMtimeNs: BigInt(match[3] ?? '0'),
        path: match[4] ?? '',
      });
    } else if (line.startsWith('error ')) {
      status.error ??= line.slice('error '.length);
    } else if ((match = /^execfail (\d+) (.*)$/.exec(line)) !== null) {
      status.execFailure = { errno: Number(match[1]), message: match[2] ?? '' };
    }
  }
  return status;
}

function signalName(signal: number): NodeJS.Signals | undefined {
  return (Object.entries(constants.signals) as [NodeJS.Signals, number][]).find(
    ([, number]) => number === signal,
  )?.[0];
}

/** Dedupes env (last wins) and adds PATH and HOME when missing, as runc's prepareEnv does. */
function buildEnv(env: readonly string[], home: string): string[] {
  const byKey = new Map<string, string>();
  for (const entry of env) {
    const eq = entry.indexOf('=');
    byKey.set(eq === -1 ? entry : entry.slice(0, eq), entry);
  }
  if (!byKey.has('PATH')) byKey.set('PATH', DEFAULT_PATH);
  if (!byKey.has('HOME')) byKey.set('HOME', `HOME=${home}`);
  return [...byKey.values()];
}

const depth = (target: string): number => target.split('/').filter((part) => part !== '').length;

/**
 * The native sandbox executor: one `tbuild-sandbox` helper process per step
 * (docs/runtime.md). Node never forks or unshares itself.
 */
export class SandboxExecutor implements Executor {
  readonly #options: SandboxExecutorOptions;
  readonly #logger: Logger;
  readonly #locks = new CacheLocks();
  readonly #sharedFiles = new Set<string>();
  readonly #network: DefaultNetwork;
  #madeMountPoint = false;

  constructor(options: SandboxExecutorOptions) {
    this.#options = options;
    this.#logger = options.logger ?? noopLogger;
    this.#network = new DefaultNetwork({
      ...(options.networkStateDir === undefined ? {} : { stateDir: options.networkStateDir }),
      logger: this.#logger,
    });
  }

  /** Stops using the default network (the last tbuild process of the host takes its table down). */
  async close(): Promise<void> {
    await this.#network.close();
  }

  async run(spec: RunSpec, options: RunOptions): Promise<RunResult> {
    validateSpec(spec);
    throwIfAborted(options.signal);
    const { rootfs } = spec;
    const layers = [rootfs.upperDir, ...rootfs.lowerDirs];
    const user = resolveUser(spec.process.user, () => ({
      passwd: readMergedFile(layers, '/etc/passwd'),
      group: readMergedFile(layers, '/etc/group'),
    }));
    const network = spec.network ?? 'default';
    const hostname = spec.hostname ?? 'buildkitsandbox';
    const releases: (() => void)[] = [];
    let cgroup: StepCgroup | undefined;
    let settled = false;
    let stubs: MountStub[] = [];
    try {
      const hostResolv = readFileOr(this.#options.hostResolvConf ?? '/etc/resolv.conf');
      const hosts = this.#sharedFile(hostsFile(hostname, spec.extraHosts));
      const upstream = network === 'host' ? '' : readFileOr(SYSTEMD_RESOLVED_UPSTREAM);
      const resolv = this.#sharedFile(resolvConf(hostResolv, network, upstream));
      // The host side of the default network (NAT, firewall), set up by the first such step.
      const nat = network === 'default' ? await this.#network.ready(options.signal) : undefined;

      const overlay = relativeOverlay(rootfs);
      const config = new ConfigWriter();
      for (const lower of overlay.lowerDirs) config.add(ConfigTag.lower, lower);
      config
        .add(ConfigTag.layerDir, overlay.cwd)
        .add(ConfigTag.upper, overlay.upperDir ?? rootfs.upperDir)
        .add(ConfigTag.work, overlay.workDir ?? rootfs.workDir)
        .add(ConfigTag.rootfs, this.#mountPoint());
      const mounts = [...(spec.mounts ?? [])].sort((a, b) => depth(a.target) - depth(b.target));
      for (const mount of mounts) {
        await this.#addMount(config, mount, options.signal, releases);
      }
      for (const arg of spec.process.args) config.add(ConfigTag.arg, arg);
      const env = buildEnv(spec.process.env, user.home);
      for (const entry of env) config.add(ConfigTag.env, entry);
      config
        .add(ConfigTag.cwd, spec.process.cwd ?? '/')
        .add(ConfigTag.uid, String(user.uid))
        .add(ConfigTag.gid, String(user.gid));
      for (const gid of user.additionalGids) config.add(ConfigTag.group, String(gid));
      config
        .add(ConfigTag.hostname, hostname)
        .add(ConfigTag.network, network === 'default' ? 'nat' : network)
        .add(ConfigTag.hosts, hosts)
        .add(ConfigTag.resolv, resolv)
        .add(ConfigTag.seccomp, seccompProgram());
      if (nat !== undefined) {
        config.add(ConfigTag.netSubnet, nat.subnet).add(ConfigTag.netMtu, String(nat.mtu));
      }
      for (const limit of stepRlimits(spec.ulimits)) {
        config.add(ConfigTag.rlimit, `${String(limit.resource)} ${limit.soft} ${limit.hard}`);
      }
      if (spec.shmSize !== undefined) config.add(ConfigTag.shmSize, String(spec.shmSize));
      // Every step gets a cgroup when it can: besides limits it accounts CPU time (onStart).
      const stepCgroup = createStepCgroup(
        `step-${String(process.pid)}-${String(++runCounter)}`,
        spec.limits,
      );
      cgroup = stepCgroup;
      for (const file of stepCgroup?.procsFiles ?? []) config.add(ConfigTag.cgroupProcs, file);
      if (stepCgroup?.cloneInto !== undefined)
        config.add(ConfigTag.cgroupClone, stepCgroup.cloneInto);
      if (stepCgroup?.version === 2) config.add(ConfigTag.cgroupNs, '1');
      options.onStart?.({
        cpuTimeNs: () => (settled ? undefined : stepCgroup?.cpuTimeNs()),
        threads: () => (settled ? undefined : stepCgroup?.threads()),
        freeze: (frozen) => !settled && stepCgroup?.freeze(frozen) === true,
      });

      const startedAt = new Date();
      const started = performance.now();
      const { statusText, canceled } = await this.#spawnHelper(config.toBuffer(), options);
      const totalMs = performance.now() - started;
      const status = parseStatus(statusText);
      stubs = status.stubs;
      if (canceled) throw canceledError(options.signal);
      if (status.error?.startsWith('network:') === true) {
        throw new TbuildError(
          'TB_RUNTIME_NETWORK',
          `cannot set up the step's network: ${status.error}`,
          {
            hint: 'the default network needs root and veth, netfilter NAT in the kernel; --network=host --allow network.host shares the host network instead',
          },
        );
      }
      if (status.error !== undefined) {
        throw new TbuildError('TB_RUNTIME_SANDBOX', `sandbox setup failed: ${status.error}`, {
          hint: 'tbuild runs RUN steps as root with overlayfs and namespaces',
        });
      }
      if (status.execFailure?.errno === E2BIG) {
        throw argumentsTooLong(spec.process.args, env);
      }
      if (status.execFailure !== undefined) {
        throw new TbuildError(
          'TB_RUNTIME_EXEC',
          `cannot run ${spec.process.args[0] ?? ''}: ${status.execFailure.message}`,
          {
            details: { args: spec.process.args },
          },
        );
      }
      const outcome = status.result ?? status.initExit;
      if (outcome === undefined) {
        throw new TbuildError('TB_RUNTIME_SANDBOX', 'the sandbox helper ended without a status');
      }
      const oomKilled = cgroup?.oomKilled() ?? false;
      const killedBy = outcome.kind === 'signal' ? outcome.value : undefined;
      return {
        exitCode: killedBy === undefined ? outcome.value : 128 + killedBy,
        signal: killedBy === undefined ? undefined : signalName(killedBy),
        oomKilled,
        timing: { startedAt, totalMs },
      };
    } finally {
      settled = true;
      for (const release of releases) release();
      try {
        cgroup?.remove();
      } catch (error) {
        this.#logger.warn('cannot remove step cgroup', { error: String(error) });
      }
      try {
        removeMountStubs(rootfs.upperDir, stubs);
      } catch (error) {
        this.#logger.warn('cannot remove mount stubs', { error: String(error) });
      }
    }
  }

  /**
   * The directory every sandbox mounts its root on. One is enough for steps at
   * once, in this process or others: the helper mounts in its own private mount
   * namespace, so the host never sees the mount (a directory per step cost a
   * mkdtemp, three writes and a recursive rm, a few ms of a 40 ms step).
   */
  #mountPoint(): string {
    const dir = join(this.#options.stateDir, 'rootfs');
    if (!this.#madeMountPoint) {
      mkdirSync(dir, { recursive: true });
      this.#madeMountPoint = true;
    }
    return dir;
  }

  /**
   * A file bound read-only into sandboxes (/etc/hosts, /etc/resolv.conf), named
   * by its content so steps with the same one share it: written once, whole
   * (temp + rename), never changed afterwards.
   */
  #sharedFile(content: string): string {
    const name = createHash('sha256').update(content).digest('hex').slice(0, 32);
    const path = join(this.#options.stateDir, 'etc', name);
    if (this.#sharedFiles.has(path)) return path;
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      const temp = `${path}.${String(process.pid)}.${randomBytes(4).toString('hex')}`;
      try {
        writeFileSync(temp, content, { mode: 0o644 });
        renameSync(temp, path);
      } catch (error) {
        // A full disk leaves no temp behind, and the error names the file.
        rmSync(temp, { force: true });
        throw toTbuildError(Object.assign(error as Error, { path: temp }));
      }
    }
    this.#sharedFiles.add(path);
    return path;
  }

  async #addMount(
    config: ConfigWriter,
    mount: SandboxMount,
    signal: AbortSignal,
    releases: (() => void)[],
  ): Promise<void> {
    switch (mount.type) {
      case 'bind':
        config.mount({
          kind: 'bind',
          source: mount.source,
          dest: mount.target,
          readonly: mount.readonly ?? false,
        });
        return;
      case 'cache': {
        const { dir, release } = await this.#locks.acquire(mount.source, mount.sharing, signal);
        releases.push(release);
        mkdirSync(dir, { recursive: true });
        config.mount({
          kind: 'bind',
          source: dir,
          dest: mount.target,
          readonly: mount.readonly ?? false,
        });
        return;
      }
      case 'tmpfs':
        config.mount({
          kind: 'tmpfs',
          source:
            mount.sizeBytes === undefined
              ? 'mode=1777'
              : `mode=1777,size=${String(mount.sizeBytes)}`,
          dest: mount.target,
          readonly: false,
        });
        return;
      case 'secret':
        config.mount({
          kind: 'secret',
          source: '',
          dest: mount.target,
          readonly: true,
          uid: mount.uid ?? 0,
          gid: mount.gid ?? 0,
          mode: mount.mode ?? 0o400,
          data: mount.data,
        });
        return;
      case 'ssh':
        config.mount({
          kind: 'bind',
          source: mount.socketPath,
          dest: mount.target,
          readonly: false,
        });
        return;
    }
  }

  /** Spawns the helper, streams output, and resolves when it and every pipe are done. */
  async #spawnHelper(
    config: Buffer,
    options: RunOptions,
  ): Promise<{ statusText: string; canceled: boolean }> {
    const child = spawn(nativeBuildPath('tbuild-sandbox'), [], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    });
    const statusChunks: Buffer[] = [];
    const [, stdout, stderr, configPipe, statusPipe] = child.stdio as unknown as [
      null,
      Readable,
      Readable,
      Writable,
      Readable,
    ];
    statusPipe.on('data', (chunk: Buffer) => statusChunks.push(chunk));
    forward(stdout, options.stdout);
    forward(stderr, options.stderr);
    configPipe.on('error', () => undefined); // the helper may die before reading it all
    configPipe.end(config);

    let canceled = false;
    let backstop: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      canceled = true;
      child.kill('SIGTERM');
      backstop = setTimeout(() => child.kill('SIGKILL'), KILL_BACKSTOP_MS);
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    if (options.signal.aborted) onAbort();
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('error', (error) => {
          reject(
            new TbuildError(
              'TB_RUNTIME_SANDBOX',
              `cannot start the sandbox helper: ${error.message}`,
              { cause: error },
            ),
          );
        });
        child.once('close', () => {
          resolve();
        });
      });
    } finally {
      options.signal.removeEventListener('abort', onAbort);
      if (backstop !== undefined) clearTimeout(backstop);
    }
    return { statusText: Buffer.concat(statusChunks).toString('utf8'), canceled };
  }
}

function forward(from: Readable, to: Writable | undefined): void {
  if (to === undefined) {
    from.resume();
    return;
  }
  from.pipe(to, { end: false });
}

function readFileOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
