/**
 * The 20k-file realistic context (bench/builds/realistic.ts) rebuilt after a
 * one-file edit, by the local CLI and through `--builder` to a `tbuild serve
 * --grpc` on the same machine (another root), alternating which goes first.
 * Prints the medians, their ratio (target ≤ 1.3) and the bytes the client sent
 * for each remote build (target ≤ 1 MB), counted by a TCP proxy in between.
 *
 *   npm run build && npx tsx bench/remote-builder/run.ts [--runs N]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { editOneSourceFile, realistic } from '../builds/realistic.js';
import { formatMs, median } from '../lib.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TBUILD = join(REPO, 'bin/tbuild.js');
const runsFlag = process.argv.indexOf('--runs');
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 5;

function rootWithBusybox(): string {
  const root = mkdtempSync(join(tmpdir(), 'bench-remote-root-'));
  const made = spawnSync('bash', [join(REPO, 'scripts/make-busybox-image.sh'), '--root', root]);
  if (made.status !== 0) throw new Error(`make-busybox-image.sh failed: ${String(made.stderr)}`);
  return root;
}

/** Runs the CLI without blocking this process (the proxy counts bytes here meanwhile). */
function timed(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = process.hrtime.bigint();
  const child = spawn(TBUILD, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      if (code === 0) resolve(Number(process.hrtime.bigint() - started) / 1e6);
      else
        reject(
          new Error(`tbuild ${args.join(' ')} failed (${String(code)}):\n${stderr.slice(-3000)}`),
        );
    });
  });
}

async function main(): Promise<void> {
  const localRoot = rootWithBusybox();
  const serverRoot = rootWithBusybox();
  const scratch = mkdtempSync(join(tmpdir(), 'bench-remote-'));
  const context = join(scratch, 'context');
  spawnSync('mkdir', ['-p', context]);
  realistic.prepare(context);
  const server = spawn(
    TBUILD,
    ['serve', '--root', serverRoot, '--listen', 'tcp://127.0.0.1:0', '--grpc', 'tcp://127.0.0.1:0'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TBUILD_LOG_LEVEL: 'warn' } },
  );
  const grpc = await new Promise<string>((resolve) => {
    let text = '';
    server.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const match = /\(gRPC\) on tcp:\/\/([^\s]+)/.exec(text);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
  });
  const [host = '', port = ''] = grpc.split(':');
  let sent = 0;
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(Number(port), host);
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => (sent += chunk.length));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  const builder = `tcp://127.0.0.1:${String(typeof address === 'object' && address !== null ? address.port : 0)}`;
  const env = { TBUILD_CONFIG_DIR: join(scratch, 'config') };
  const local = (): Promise<number> =>
    timed(['build', '--root', localRoot, '-t', 'bench/remote', context], env);
  const remote = (): Promise<number> =>
    timed(
      [
        'build',
        '--builder',
        builder,
        '--root',
        join(scratch, 'client-root'),
        '-t',
        'bench/remote',
        context,
      ],
      env,
    );
  try {
    // Cold: the local cache, and the builder's copy of the context and its cache.
    await local();
    sent = 0;
    const coldRemote = await remote();
    console.log(`cold remote build: ${formatMs(coldRemote)}, ${(sent / 1e6).toFixed(1)} MB sent`);
    const localTimes: number[] = [];
    const remoteTimes: number[] = [];
    const bytes: number[] = [];
    for (let round = 0; round < RUNS; round++) {
      editOneSourceFile(context, round);
      spawnSync('sync');
      const measureRemote = async (): Promise<void> => {
        sent = 0;
        remoteTimes.push(await remote());
        bytes.push(sent);
      };
      if (round % 2 === 0) {
        localTimes.push(await local());
        await measureRemote();
      } else {
        await measureRemote();
        localTimes.push(await local());
      }
      console.log(
        `round ${String(round + 1)}: local ${formatMs(localTimes.at(-1) ?? 0)}, remote ${formatMs(remoteTimes.at(-1) ?? 0)}, ${String(bytes.at(-1))} bytes sent`,
      );
    }
    const ratio = median(remoteTimes) / median(localTimes);
    console.log(
      `one-file edit, median of ${String(RUNS)}: local ${formatMs(median(localTimes))}, --builder ${formatMs(median(remoteTimes))}, ratio ${ratio.toFixed(2)} (target ≤ 1.3); bytes sent median ${String(median(bytes))}, max ${String(Math.max(...bytes))} (target ≤ 1,000,000)`,
    );
  } finally {
    for (const socket of sockets) socket.destroy();
    proxy.close();
    server.kill('SIGTERM');
    await new Promise((resolve) => server.on('exit', resolve));
    for (const dir of [localRoot, serverRoot, scratch])
      rmSync(dir, { recursive: true, force: true });
  }
}

await main();
