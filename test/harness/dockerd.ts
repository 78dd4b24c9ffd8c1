import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real dockerd of its own: private socket, data and exec roots; never the system one. */
export interface TestDockerd {
  /** `unix:///tmp/…/docker.sock`, for DOCKER_HOST or `docker -H`. */
  readonly host: string;
  readonly socket: string;
  /** Everything the daemon logged so far. */
  logs(): string;
  stop(): Promise<void>;
}

/** Long enough for a first start on a busy 2-core machine (containerd comes up first). */
const START_TIMEOUT_MS = 60_000;

/**
 * Starts Debian's dockerd with everything under one temporary directory and no
 * host networking changes (`--iptables=false --bridge=none`: tests run
 * containers with `--network none`), then waits until `/_ping` answers.
 * dockerd starts its own containerd under the exec root. `stop` ends it with
 * SIGTERM (it stops that containerd too) and removes the directory.
 */
export async function startDockerd(): Promise<TestDockerd> {
  const dir = await mkdtemp(join(tmpdir(), 'tbuild-dockerd-'));
  const socket = join(dir, 'docker.sock');
  const binary = existsSync('/usr/sbin/dockerd') ? '/usr/sbin/dockerd' : '/usr/bin/dockerd';
  const daemon = spawn(
    binary,
    [
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'docker.pid'),
      '-H',
      `unix://${socket}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let logs = '';
  const collect = (chunk: Buffer): void => {
    logs += chunk.toString('utf8');
  };
  daemon.stdout.on('data', collect);
  daemon.stderr.on('data', collect);
  const stop = async (): Promise<void> => {
    if (daemon.exitCode === null && daemon.signalCode === null) {
      const exited = once(daemon, 'exit');
      daemon.kill('SIGTERM');
      await exited;
    }
    // A daemon killed mid-way may leave its overlay and shm mounts: undo them first.
    for (const mount of mountsUnder(dir)) spawnSync('umount', ['-l', mount]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPing(socket, daemon, () => logs);
  } catch (error) {
    await stop();
    throw error;
  }
  return { host: `unix://${socket}`, socket, logs: () => logs, stop };
}

async function waitForPing(
  socket: string,
  daemon: ChildProcess,
  logs: () => string,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (daemon.exitCode !== null || daemon.signalCode !== null)
      throw new Error(`dockerd exited before it answered:\n${logs()}`);
    if (existsSync(socket) && (await ping(socket))) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `dockerd did not answer /_ping within ${String(START_TIMEOUT_MS)} ms:\n${logs()}`,
  );
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => {
      resolve(false);
    });
    req.end();
  });
}

/** Mount points below `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}
