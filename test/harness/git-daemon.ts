import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';

/** A real `git daemon` serving bare repositories under `baseDir` over git:// on 127.0.0.1. */
export interface TestGitDaemon {
  /** `git://127.0.0.1:PORT`; append `/<name>.git` for a repository under baseDir. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts `git daemon --export-all` on a free port and waits until it accepts connections.
 * Runs as its own process, so the tests' blocking spawnSync of the CLI does not stall it.
 */
export async function startGitDaemon(baseDir: string): Promise<TestGitDaemon> {
  const port = await freePort();
  const daemon = spawn(
    'git',
    [
      'daemon',
      '--reuseaddr',
      `--base-path=${baseDir}`,
      '--export-all',
      '--listen=127.0.0.1',
      `--port=${String(port)}`,
      baseDir,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  daemon.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitUntilListening(port, daemon, () => stderr);
  return {
    url: `git://127.0.0.1:${String(port)}`,
    port,
    async stop() {
      if (daemon.exitCode !== null || daemon.signalCode !== null) return;
      const exited = once(daemon, 'exit');
      daemon.kill('SIGTERM');
      await exited;
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

async function waitUntilListening(
  port: number,
  daemon: ChildProcess,
  stderr: () => string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (daemon.exitCode !== null) {
      throw new Error(`git daemon exited with ${String(daemon.exitCode)}: ${stderr()}`);
    }
    const connected = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        resolve(false);
      });
    });
    if (connected) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  daemon.kill('SIGKILL');
  throw new Error(`git daemon did not listen on 127.0.0.1:${String(port)}: ${stderr()}`);
}
