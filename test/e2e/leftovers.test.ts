import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, type TestContext } from 'vitest';
import { REPO_ROOT, requires, rootWithBusybox, runTbuild, writeContext } from '../harness/index.js';

/**
 * Issue #17: what a killed tbuild leaves on its root (a read-only overlay
 * under v1/tmp/mnt, temp dirs, leases) is cleaned by the next command that
 * opens the root, `du` and `prune` included, so `rm -rf` of the root works
 * without running a build first; a live process's mount is never touched.
 */

/** Mount points at or below `dir`, as this mount namespace sees them. */
async function mountsUnder(dir: string): Promise<string[]> {
  const lines = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  return lines.map((line) => line.split(' ')[4] ?? '').filter((path) => path.startsWith(dir));
}

function mount(...args: string[]): void {
  const result = spawnSync('mount', args, { encoding: 'utf8' });
  expect(result.stderr).toBe('');
}

/** Removes the root as a user would; the exit code says whether anything was in the way. */
function rmRoot(root: string): number | null {
  return spawnSync('rm', ['-rf', root]).status;
}

async function freshRoot(ctx: TestContext): Promise<string> {
  requires(ctx, 'root', 'overlay', 'busybox');
  const root = await rootWithBusybox();
  ctx.onTestFinished(async () => {
    for (const point of (await mountsUnder(root)).reverse()) spawnSync('umount', ['-l', point]);
    await rm(root, { recursive: true, force: true });
  });
  return root;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else
      child.once('exit', () => {
        resolve();
      });
  });
}

describe('leftovers of killed processes', () => {
  it('du and prune detach dead mounts, drop dead temps and leases, and keep a live mount', async (ctx) => {
    const root = await freshRoot(ctx);
    const tmp = join(root, 'v1', 'tmp');
    const mnt = join(tmp, 'mnt');
    const dead = spawnSync('true').pid;
    // A process that stays alive while du runs, as a running build would.
    const live = spawn('sleep', ['600'], { stdio: 'ignore' });
    ctx.onTestFinished(() => void live.kill('SIGKILL'));
    const livePid = live.pid ?? 0;

    const layers = [join(root, 'low1'), join(root, 'low2')];
    for (const [index, dir] of layers.entries()) {
      await mkdir(dir);
      await writeFile(join(dir, `f${String(index)}`), 'x');
    }
    const deadOverlay = join(mnt, `m${String(dead)}xdead0001`);
    const deadBind = join(mnt, `m${String(dead)}xdead0002`);
    const liveBind = join(mnt, `m${String(livePid)}xlive0001`);
    for (const point of [deadOverlay, deadBind, liveBind]) await mkdir(point, { recursive: true });
    mount('-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${layers.join(':')}`, deadOverlay);
    mount('--bind', '-o', 'ro', layers[0] ?? '', deadBind);
    mount('--bind', '-o', 'ro', layers[1] ?? '', liveBind);
    await mkdir(join(tmp, `${String(dead)}-0-scratch`, 'upper'), { recursive: true });
    const lease = JSON.stringify({
      id: 'killed',
      owner: { pid: dead, start: 1 },
      createdAt: Date.now(),
      blobs: [],
      snapshots: [],
      records: [],
    });
    // As LeaseManager writes it: the body's sha256, a tab, the body.
    const sum = createHash('sha256').update(lease).digest('hex');
    await writeFile(join(root, 'v1', 'leases', 'killed.json'), `${sum}\t${lease}\n`);
    expect(await mountsUnder(mnt)).toHaveLength(3);

    const du = runTbuild(['du'], { root });
    expect(du.code, du.stderr).toBe(0);
    expect(await mountsUnder(root)).toEqual([liveBind]);
    expect(await readdir(mnt)).toEqual([`m${String(livePid)}xlive0001`]);
    expect((await readdir(tmp)).filter((name) => name.startsWith(`${String(dead)}-`))).toEqual([]);
    expect(await readdir(join(root, 'v1', 'leases'))).toEqual([]);

    // Once its process is gone, prune (declined at the prompt: cleaning is not removing cache)
    // detaches the last one, and the root can be removed.
    live.kill('SIGKILL');
    await exited(live);
    const prune = runTbuild(['prune'], { root });
    expect(prune.code, prune.stderr).toBe(0);
    expect(await mountsUnder(root)).toEqual([]);
    expect(rmRoot(root)).toBe(0);
  }, 60_000);

  it('after kill -9 of a build while a COPY holds its mount, du leaves no mount and rm -rf works', async (ctx) => {
    const root = await freshRoot(ctx);
    const work = await mkdtemp(join(tmpdir(), 'tbuild-leftovers-'));
    ctx.onTestFinished(() => rm(work, { recursive: true, force: true }));
    // Two layers on each side of the COPY, so both its source view and its
    // destination are overlays mounted under v1/tmp/mnt while 20000 files are copied.
    const context = await writeContext(join(work, 'context'), {
      Dockerfile: `FROM busybox AS files
RUN mkdir /many && cd /many && seq 1 20000 | xargs touch
FROM busybox
RUN echo base > /base
COPY --from=files /many /many
`,
    });
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/tbuild.js'), 'build', context], {
      env: { ...process.env, TBUILD_ROOT: root },
      stdio: 'ignore',
    });
    ctx.onTestFinished(() => void child.kill('SIGKILL'));
    const mnt = join(root, 'v1', 'tmp', 'mnt');
    // Polls until the build has a mount; the test fails if the build ends first.
    while ((await mountsUnder(mnt)).length === 0 && child.exitCode === null) await sleep(5);
    child.kill('SIGKILL');
    await exited(child);
    expect(child.signalCode).toBe('SIGKILL');
    expect((await mountsUnder(mnt)).length).toBeGreaterThan(0);

    const du = runTbuild(['du'], { root });
    expect(du.code, du.stderr).toBe(0);
    expect(await mountsUnder(root)).toEqual([]);
    expect(rmRoot(root)).toBe(0);
  }, 120_000);
});
