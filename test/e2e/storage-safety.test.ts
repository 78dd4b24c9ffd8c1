import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { requires, REPO_ROOT, rootWithBusybox } from '../harness/index.js';

/**
 * Issue #4's storage safety, through the built CLI on real roots: concurrent
 * builds, kill -9 at random moments, corrupted blobs and snapshots, Ctrl-C.
 */
let work = '';
let context = '';

const DOCKERFILE = `FROM busybox
COPY a.txt /a.txt
RUN for i in 1 2 3 4 5 6 7 8 9 10; do echo "$i" > /n$i; done
ARG N=0
RUN sleep 0.2 && cat /a.txt > /b.txt && echo "n=$N" >> /b.txt
COPY dir /dir
RUN sleep 0.2 && ls /dir > /list && echo "n=$N" >> /list
RUN echo "done $N" > /done
`;

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  work = await mkdtemp(join(tmpdir(), 'tbuild-safety-'));
  context = join(work, 'context');
  await mkdir(join(context, 'dir'), { recursive: true });
  await writeFile(join(context, 'Dockerfile'), DOCKERFILE);
  await writeFile(join(context, 'a.txt'), 'alpha\n');
  for (const name of ['x', 'y', 'z']) await writeFile(join(context, 'dir', name), name);
});

afterAll(async () => {
  if (work !== '') await rm(work, { recursive: true, force: true });
});

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** The CLI as a child process we can signal; `kill` runs once it has started. */
function tbuild(
  root: string,
  args: readonly string[],
  kill?: { afterMs: number; signal: NodeJS.Signals },
): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/tbuild.js'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, TBUILD_ROOT: root },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer =
    kill === undefined ? undefined : setTimeout(() => child.kill(kill.signal), kill.afterMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

function buildArgs(out: string, n: number, extra: readonly string[] = []): string[] {
  return [
    'build',
    '--progress=plain',
    '--build-arg',
    `N=${String(n)}`,
    '-o',
    `type=local,dest=${out}`,
    ...extra,
    context,
  ];
}

async function expectOutput(out: string, n: number): Promise<void> {
  expect(await readFile(join(out, 'b.txt'), 'utf8')).toBe(`alpha\nn=${String(n)}\n`);
  expect(await readFile(join(out, 'list'), 'utf8')).toBe(`x\ny\nz\nn=${String(n)}\n`);
  expect(await readFile(join(out, 'done'), 'utf8')).toBe(`done ${String(n)}\n`);
  expect(await readFile(join(out, 'n7'), 'utf8')).toBe('7\n');
}

async function expectBuild(root: string, n: number, extra: readonly string[] = []): Promise<Run> {
  const out = join(work, `out-${String(n)}-${String(Date.now())}`);
  const run = await tbuild(root, buildArgs(out, n, extra));
  expect(run.code, run.stderr).toBe(0);
  await expectOutput(out, n);
  await rm(out, { recursive: true, force: true });
  return run;
}

/** Mount points under the root (a leaked overlay or bind mount). */
async function mountsUnder(root: string): Promise<string[]> {
  const mounts = await readFile('/proc/mounts', 'utf8');
  return mounts.split('\n').filter((line) => line.includes(root));
}

/** Processes whose command line names the root (a leaked tbuild or sandboxed step). */
async function processesUsing(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (environ.includes(`TBUILD_ROOT=${root}\0`)) found.push(pid);
  }
  return found;
}

/** A small seeded PRNG (mulberry32), so a failing delay sequence can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function freshRoot(ctx: TestContext): Promise<string> {
  requires(ctx, 'root', 'overlay', 'busybox');
  const root = await rootWithBusybox();
  ctx.onTestFinished(() => rm(root, { recursive: true, force: true }));
  return root;
}

describe('storage safety', () => {
  it('two builds on one root at once both succeed, same and different Dockerfiles', async (ctx) => {
    const root = await freshRoot(ctx);
    const [one, two] = [join(work, 'same-1'), join(work, 'same-2')];
    const same = await Promise.all([
      tbuild(root, buildArgs(one, 1)),
      tbuild(root, buildArgs(two, 1)),
    ]);
    for (const run of same) expect(run.code, run.stderr).toBe(0);
    await expectOutput(one, 1);
    await expectOutput(two, 1);
    const [three, four] = [join(work, 'diff-3'), join(work, 'diff-4')];
    const different = await Promise.all([
      tbuild(root, buildArgs(three, 3, ['--no-cache'])),
      tbuild(root, buildArgs(four, 4)),
    ]);
    for (const run of different) expect(run.code, run.stderr).toBe(0);
    await expectOutput(three, 3);
    await expectOutput(four, 4);
  }, 60_000);

  it('after kill -9 at random moments of a build, the next build succeeds with correct output', async (ctx) => {
    const root = await freshRoot(ctx);
    let last = await expectBuild(root, 0);
    const random = seeded(20_240_401);
    // Kills at random moments until enough of them landed inside a build (a kill after
    // the build exited proves nothing), each spread over the last whole build's time:
    // on a busy machine a build takes longer, and the delays follow it.
    const wanted = 10;
    let killedMidway = 0;
    for (let index = 1; index <= 40 && killedMidway < wanted; index++) {
      const afterMs = Math.floor(random() * last.ms * 1.1);
      const out = join(work, `killed-${String(index)}`);
      const killed = await tbuild(root, buildArgs(out, index), { afterMs, signal: 'SIGKILL' });
      if (killed.signal === 'SIGKILL') killedMidway += 1;
      last = await expectBuild(root, index);
      await rm(out, { recursive: true, force: true });
    }
    expect(killedMidway).toBe(wanted);
    await sleep(200);
    expect(await processesUsing(root)).toEqual([]);
  }, 360_000);

  it('a corrupted layer blob is detected and rebuilt, never exported', async (ctx) => {
    const root = await freshRoot(ctx);
    const archive = join(work, 'blob.tar');
    await expectBuild(root, 5, ['-o', `type=oci,dest=${archive}`]);
    // Flip a byte in every blob the build made (layers among them); the base image's stay intact.
    const blobs = join(root, 'v1', 'blobs', 'sha256');
    const before = new Set(await readdir(blobs));
    const fresh = await rootWithBusybox();
    const base = new Set(await readdir(join(fresh, 'v1', 'blobs', 'sha256')));
    await rm(fresh, { recursive: true, force: true });
    const made = [...before].filter((hex) => !base.has(hex));
    expect(made.length).toBeGreaterThan(0);
    for (const hex of made) {
      const path = join(blobs, hex);
      const bytes = await readFile(path);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = (bytes[at] ?? 0) ^ 0xff;
      await writeFile(path, bytes);
    }
    await expectBuild(root, 5, ['-o', `type=oci,dest=${archive}`]);
    // Every blob exported matches its digest: nothing damaged was used.
    const unpacked = join(work, 'blob-unpacked');
    await mkdir(unpacked, { recursive: true });
    execFileSync('tar', ['-xf', archive, '-C', unpacked]);
    const exported = await readdir(join(unpacked, 'blobs', 'sha256'));
    expect(exported.some((hex) => made.includes(hex))).toBe(true);
    for (const hex of exported) {
      const digest = createHash('sha256')
        .update(await readFile(join(unpacked, 'blobs', 'sha256', hex)))
        .digest('hex');
      expect(digest, `blob ${hex}`).toBe(hex);
    }
  }, 60_000);

  it('a snapshot with a deleted or changed file is detected and rebuilt, never used', async (ctx) => {
    const root = await freshRoot(ctx);
    await expectBuild(root, 6);
    const snapshots = join(root, 'v1', 's');
    const ids = (await readdir(snapshots)).filter((name) => /^[a-z0-9]{6}$/.test(name));
    let damaged = 0;
    for (const id of ids) {
      const names = await readdir(join(snapshots, id));
      if (names.includes('done')) {
        await rm(join(snapshots, id, 'done'));
        damaged += 1;
      }
      if (names.includes('b.txt')) {
        await writeFile(join(snapshots, id, 'b.txt'), 'tampered, longer than before\n');
        damaged += 1;
      }
    }
    expect(damaged).toBe(2);
    await expectBuild(root, 6);
  }, 60_000);

  it('prune --all during a build keeps what the build holds: the build succeeds', async (ctx) => {
    const root = await freshRoot(ctx);
    await expectBuild(root, 8);
    const out = join(work, 'pruned-during');
    const building = tbuild(root, buildArgs(out, 9));
    let prunes = 0;
    const state = { finished: false };
    void building.then(() => (state.finished = true));
    while (!state.finished) {
      const pruned = await tbuild(root, ['prune', '--all', '--force']);
      expect(pruned.code, pruned.stderr).toBe(0);
      expect(pruned.stdout).toMatch(/^Total:\t/m);
      prunes += 1;
    }
    const run = await building;
    expect(run.code, run.stderr).toBe(0);
    expect(prunes).toBeGreaterThan(1);
    await expectOutput(out, 9);
    // After the build, prune --all leaves only the base image; the next build still works.
    expect((await tbuild(root, ['prune', '--all', '--force'])).code).toBe(0);
    await expectBuild(root, 9);
  }, 60_000);

  it('Ctrl-C stops a running step: exit 130, no mount or process left, the next build works', async (ctx) => {
    const root = await freshRoot(ctx);
    const sleepy = join(work, 'sleepy');
    await mkdir(sleepy, { recursive: true });
    await writeFile(join(sleepy, 'Dockerfile'), 'FROM busybox\nRUN sleep 30\n');
    const started = Date.now();
    const child = tbuild(root, ['build', '--progress=plain', sleepy], {
      afterMs: 2500,
      signal: 'SIGINT',
    });
    const run = await child;
    expect(run.code, run.stderr).toBe(130);
    // Killed at 2.5 s; exit within a couple of seconds of it.
    expect(Date.now() - started).toBeLessThan(2500 + 3000);
    expect(run.stderr).toMatch(/canceled/);
    await sleep(200);
    expect(await mountsUnder(root)).toEqual([]);
    expect(await processesUsing(root)).toEqual([]);
    await expectBuild(root, 7);
  }, 60_000);
});
