/**
 * Several `tbuild serve --queue` nodes on one Redis (docs/service.md, "Many machines"):
 * `npx tsx bench/service/nodes.ts [--builds N] [--work N] [--concurrent N]`.
 *
 * N builds (default 20), each a different small Dockerfile whose RUN spins `--work`
 * loop turns, sent at once round-robin to the nodes; the time from the first
 * submit until every build ended, with 1 node and then with 2 (each on a root of
 * its own, a redis-server of the bench's own on a free loopback port). Prints
 * the wall time and which node ran how many. On one machine both nodes share its
 * cores, so the figure says what the queue costs, not what a second machine gains.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pack } from 'tar-stream';
import { formatMs } from '../lib.js';

const args = process.argv.slice(2);
const valueOf = (flag: string): string | undefined => {
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
};
const builds = Number(valueOf('--builds') ?? 20);
const work = Number(valueOf('--work') ?? 300_000);
const concurrent = Number(valueOf('--concurrent') ?? 2);
const tbuildBin = fileURLToPath(new URL('../../bin/tbuild.js', import.meta.url));
const makeBusybox = fileURLToPath(new URL('../../scripts/make-busybox-image.sh', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tbuild-bench-nodes-'));

interface Started {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Starts a process and waits for `ready` in its output; `url` is the first capture group. */
function startProcess(command: string, argv: readonly string[], ready: RegExp): Promise<Started> {
  const child = spawn(command, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TBUILD_LOG_LEVEL: 'warn' },
  });
  let output = '';
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      resolve();
    }),
  );
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match !== null)
        resolve({
          url: match[1] ?? '',
          child,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => {
      reject(new Error(`${command} exited:\n${output}`));
    });
  });
}

async function tarOf(files: Readonly<Record<string, string>>): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: unknown) => {
    chunks.push(chunk as Buffer);
  });
  const ended = new Promise<void>((resolve) => archive.on('end', resolve));
  for (const [name, content] of Object.entries(files)) archive.entry({ name }, content);
  archive.finalize();
  await ended;
  return Buffer.concat(chunks);
}

async function round(nodeCount: number, redisUrl: string, label: string): Promise<void> {
  const nodes: Started[] = [];
  for (let index = 0; index < nodeCount; index++) {
    const root = join(dir, `${label}-root-${String(index)}`);
    if (spawnSync('bash', [makeBusybox, '--root', root], { stdio: 'ignore' }).status !== 0)
      throw new Error('scripts/make-busybox-image.sh failed');
    const config = join(dir, `${label}-${String(index)}.json`);
    writeFileSync(
      config,
      JSON.stringify({ queue: { url: redisUrl, node: `${label}${String(index)}` } }),
    );
    nodes.push(
      await startProcess(
        process.execPath,
        [
          tbuildBin,
          'serve',
          '--root',
          root,
          '--listen',
          'tcp://127.0.0.1:0',
          '--config',
          config,
          '--max-concurrent-builds',
          String(concurrent),
        ],
        /listening on tcp:\/\/(\S+)/,
      ),
    );
  }
  try {
    const started = performance.now();
    const ids: { id: string; url: string }[] = [];
    for (let index = 0; index < builds; index++) {
      const url = `http://${nodes[index % nodes.length]?.url ?? ''}`;
      const body = await tarOf({
        Dockerfile: `FROM busybox\nRUN i=0; while [ $i -lt ${String(work)} ]; do i=$((i+1)); done; echo ${label}-${String(index)} > /done\n`,
      });
      const response = await fetch(`${url}/v1/builds`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-tar' },
        body,
      });
      const { id } = (await response.json()) as { id: string };
      ids.push({ id, url });
    }
    const ranOn = new Map<string, number>();
    for (const { id, url } of ids) {
      for (;;) {
        const record = (await (await fetch(`${url}/v1/builds/${id}`)).json()) as {
          status: string;
          node?: string;
        };
        if (['succeeded', 'failed', 'cancelled'].includes(record.status)) {
          if (record.status !== 'succeeded') throw new Error(`build ${id} ${record.status}`);
          ranOn.set(record.node ?? '?', (ranOn.get(record.node ?? '?') ?? 0) + 1);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    const elapsed = performance.now() - started;
    console.log(
      `${String(nodeCount)} node(s): ${String(builds)} builds in ${formatMs(elapsed)}; ran on ${[...ranOn].map(([node, count]) => `${node}: ${String(count)}`).join(', ')}`,
    );
  } finally {
    for (const node of nodes) await node.stop();
  }
}

const port = await freePort();
const redis = await startProcess(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
  /(Ready to accept connections)/,
);
try {
  const url = `redis://127.0.0.1:${String(port)}`;
  await round(1, url, 'one');
  await round(2, url, 'two');
  console.log(
    'Both rounds share this machine’s cores: the figures show the queue’s cost, not a second machine’s gain.',
  );
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
