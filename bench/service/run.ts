/**
 * Benchmarks of `tbuild serve` (issue #13), against the installed command:
 * `npx tsx bench/service/run.ts [--runs N] [--rss-builds N] [overhead|burst|load|memory…]`.
 *
 * 1. overhead: the chain scenario (40 RUNs, --no-cache) through the service vs the CLI,
 *    median of N each; the service's time is from sending the context to the SSE `end`.
 * 2. burst: 50 builds submitted at once (two tokens' worth of owners, --max-queue 60,
 *    --max-concurrent-builds 2): all finish, the queue never holds more than its bound.
 * 3. load: autocannon on GET /v1/builds/{id}, GET /v1/builds and a finished build's
 *    events while builds run: p99 latency.
 * 4. memory: the service's RSS after 50 small builds and after N (default 500).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { formatMs, median, timeCommand } from '../lib.js';
import { chain, freshDir } from '../builds/scenarios.js';

const args = process.argv.slice(2);
const valueOf = (flag: string): string | undefined => {
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
};
const runs = Number(valueOf('--runs') ?? 7);
const rssBuilds = Number(valueOf('--rss-builds') ?? 500);
const tbuildBin = fileURLToPath(new URL('../../bin/tbuild.js', import.meta.url));
const makeBusybox = fileURLToPath(new URL('../../scripts/make-busybox-image.sh', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tbuild-bench-service-'));

interface Service {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

function freshRoot(name: string): string {
  const root = join(work, name);
  rmSync(root, { recursive: true, force: true });
  const made = spawnSync('bash', [makeBusybox, '--root', root], { stdio: 'ignore' });
  if (made.status !== 0) throw new Error('scripts/make-busybox-image.sh failed');
  return root;
}

async function startService(root: string, extra: readonly string[] = []): Promise<Service> {
  const child = spawn(
    tbuildBin,
    ['serve', '--root', root, '--listen', 'tcp://127.0.0.1:0', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TBUILD_LOG_LEVEL: 'warn' } },
  );
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on tcp:\/\/(\S+)/.exec(stderr);
      if (match?.[1] !== undefined) resolve(`http://${match[1]}`);
    });
    child.on('exit', () => {
      reject(new Error(`tbuild serve exited:\n${stderr}`));
    });
  });
  let stopping = false;
  child.on('exit', (code, signal) => {
    if (!stopping)
      console.error(`tbuild serve died (${String(code ?? signal)}):\n${stderr.slice(-4000)}`);
  });
  return {
    url,
    child,
    stop: () =>
      new Promise((resolve) => {
        child.on('exit', () => {
          resolve();
        });
        stopping = true;
        child.kill('SIGTERM');
      }),
  };
}

function tarOf(dir: string): Buffer {
  return spawnSync('tar', ['-C', dir, '-c', '.'], { maxBuffer: 1 << 30 }).stdout;
}

/** Submits a context and waits for the end event; returns the build's id and final status. */
async function buildThrough(service: Service, body: Buffer, query: string) {
  const response = await fetch(`${service.url}/v1/builds${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-tar' },
    body,
  });
  if (response.status !== 202)
    throw new Error(`submit: ${String(response.status)} ${await response.text()}`);
  const { id } = (await response.json()) as { id: string };
  const events = await (await fetch(`${service.url}/v1/builds/${id}/events`)).text();
  const end = /event: end\ndata: (.*)/.exec(events)?.[1] ?? '{}';
  return { id, status: (JSON.parse(end) as { status?: string }).status };
}

function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function overhead(): Promise<void> {
  const dir = freshDir(work, 'chain');
  chain.prepare(dir);
  const root = freshRoot('overhead');
  const service = await startService(root);
  const body = tarOf(dir);
  const cli: number[] = [];
  const served: number[] = [];
  // Warm both (base image unpacked, threads started); then alternate.
  timeCommand(tbuildBin, ['build', '--root', root, '--progress=quiet', '--no-cache', dir]);
  await buildThrough(service, body, '?no-cache=true');
  for (let round = 0; round < runs; round++) {
    cli.push(
      timeCommand(tbuildBin, ['build', '--root', root, '--progress=quiet', '--no-cache', dir]),
    );
    const started = performance.now();
    const { status } = await buildThrough(service, body, '?no-cache=true');
    if (status !== 'succeeded') throw new Error(`chain through the service: ${String(status)}`);
    served.push(performance.now() - started);
  }
  await service.stop();
  console.log(
    `overhead  chain via CLI      median ${formatMs(median(cli))}  runs ${cli.map(formatMs).join(', ')}`,
  );
  console.log(
    `overhead  chain via service  median ${formatMs(median(served))}  runs ${served.map(formatMs).join(', ')}`,
  );
  console.log(
    `overhead  service - CLI      ${formatMs(median(served) - median(cli))} per build (target ≤ 50 ms)`,
  );
}

async function burst(): Promise<void> {
  const root = freshRoot('burst');
  const service = await startService(root, ['--max-concurrent-builds', '2', '--max-queue', '60']);
  const contexts = Array.from({ length: 50 }, (_, index) => {
    const dir = freshDir(work, `burst-${String(index)}`);
    writeFileSync(
      join(dir, 'Dockerfile'),
      `FROM busybox\nRUN echo ${String(index)} > /n && sleep 0.2\n`,
    );
    return tarOf(dir);
  });
  let maxQueued = 0;
  const sampler = setInterval(() => {
    void fetch(`${service.url}/metrics`)
      .then((response) => response.text())
      .then((text) => {
        maxQueued = Math.max(maxQueued, Number(/^tbuild_queue_length (\d+)/m.exec(text)?.[1] ?? 0));
      });
  }, 50);
  const started = performance.now();
  const results = await Promise.all(contexts.map((body) => buildThrough(service, body, '')));
  const elapsed = performance.now() - started;
  clearInterval(sampler);
  const ok = results.filter((result) => result.status === 'succeeded').length;
  console.log(
    `burst     50 builds at once: ${String(ok)}/50 succeeded in ${formatMs(elapsed)}, queue peaked at ${String(maxQueued)} (bound 60)`,
  );
  await service.stop();
}

async function load(): Promise<void> {
  const root = freshRoot('load');
  const service = await startService(root);
  const dir = freshDir(work, 'load-one');
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo hello\n');
  const { id } = await buildThrough(service, tarOf(dir), '');
  // Builds keep running during the load: a chain, submitted again and again.
  const chainDir = freshDir(work, 'load-chain');
  chain.prepare(chainDir);
  const chainBody = tarOf(chainDir);
  const running = { busy: true };
  const background = (async () => {
    while (running.busy) await buildThrough(service, chainBody, '?no-cache=true');
  })();
  for (const path of [`/v1/builds/${id}`, '/v1/builds?limit=50', `/v1/builds/${id}/events`]) {
    const result = await autocannon({ url: `${service.url}${path}`, connections: 10, duration: 5 });
    console.log(
      `load      GET ${path.padEnd(44)} ${String(Math.round(result.requests.average))} req/s  p50 ${String(result.latency.p50)} ms  p99 ${String(result.latency.p99)} ms (target ≤ 50 ms)  errors ${String(result.errors + result.non2xx)}`,
    );
  }
  running.busy = false;
  await background;
  await service.stop();
}

async function memory(): Promise<void> {
  const root = freshRoot('memory');
  const service = await startService(root);
  const dir = freshDir(work, 'memory-one');
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nARG N\nRUN echo $N > /n\n');
  const body = tarOf(dir);
  let after50 = 0;
  for (let index = 1; index <= rssBuilds; index++) {
    await buildThrough(service, body, `?build-arg=N=${String(index)}`);
    if (index === 50) after50 = rssMb(service.child.pid);
  }
  const afterAll = rssMb(service.child.pid);
  console.log(
    `memory    RSS after 50 builds ${after50.toFixed(0)} MB, after ${String(rssBuilds)} ${afterAll.toFixed(0)} MB: +${(afterAll - after50).toFixed(0)} MB (target ≤ 50 MB)`,
  );
  await service.stop();
}

const phases = { overhead, burst, load, memory };
const chosen = args.filter((arg) => arg in phases) as (keyof typeof phases)[];
try {
  for (const name of chosen.length > 0 ? chosen : (Object.keys(phases) as (keyof typeof phases)[]))
    await phases[name]();
} finally {
  rmSync(work, { recursive: true, force: true });
}
