import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './tbuild-cli.js';

/** A `tbuild serve` started by a test: the built CLI, on loopback port 0, on its own root. */
export interface TestService {
  /** `http://127.0.0.1:PORT` of the first tcp listen address. */
  readonly url: string;
  /** `tcp://127.0.0.1:PORT`, as DOCKER_HOST or --builder take it. */
  readonly tcp: string;
  /** The remote builder API's first address (`--grpc`), as `--builder` takes it. */
  readonly grpc?: string;
  readonly root: string;
  readonly child: ChildProcess;
  /** Everything the service wrote to stderr so far (its JSON log lines included). */
  stderr(): string;
  /** SIGTERM, then waits for the exit; returns the exit code (or the signal's name). */
  stop(): Promise<number | string>;
  /** kill -9, then waits for the exit. */
  kill(): Promise<void>;
}

export interface ServiceStartOptions {
  readonly root: string;
  /** More `tbuild serve` flags (e.g. `--config FILE`, `--max-queue 2`). */
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Starts `tbuild serve --listen tcp://127.0.0.1:0` (plus `args`) and waits for
 * it to say where it listens. No unix socket unless `args` asks for one.
 */
export async function startTbuildService(options: ServiceStartOptions): Promise<TestService> {
  const args = [
    join(REPO_ROOT, 'bin/tbuild.js'),
    'serve',
    '--root',
    options.root,
    ...(options.args?.some((arg) => arg === '--listen' || arg.startsWith('--listen=')) === true
      ? []
      : ['--listen', 'tcp://127.0.0.1:0']),
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, TBUILD_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve(code ?? signal ?? -1);
    });
  });
  const wantsGrpc =
    options.args?.some((arg) => arg === '--grpc' || arg.startsWith('--grpc=')) === true;
  let grpc: string | undefined;
  const tcp = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const match = /listening on (tcp:\/\/[^\s]+)/.exec(stderr);
      grpc = /\(gRPC\) on ((?:tcp|unix):\/\/[^\s]+)/.exec(stderr)?.[1];
      if (match?.[1] !== undefined && (!wantsGrpc || grpc !== undefined)) resolve(match[1]);
    });
    void exited.then((code) => {
      reject(new Error(`tbuild serve exited (${String(code)}) before listening:\n${stderr}`));
    });
  });
  return {
    url: tcp.replace('tcp://', 'http://'),
    tcp,
    ...(grpc === undefined ? {} : { grpc }),
    root: options.root,
    child,
    stderr: () => stderr,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
