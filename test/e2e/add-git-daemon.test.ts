import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  requires,
  rootWithBusybox,
  runTbuild,
  startGitDaemon,
  type CliResult,
  type TestGitDaemon,
} from '../harness/index.js';

/**
 * ADD of git:// sources through a real Dockerfile build, against a real `git daemon`:
 * branch and tag:subdir checkouts, --keep-git-dir, the cache on an unchanged remote, and
 * a new commit on the branch picked up on rebuild (the ref is re-resolved every build,
 * as BuildKit does, while the tag's step stays cached).
 */
let root = '';
let work = '';
let repo = '';
let bare = '';
let daemon: TestGitDaemon | undefined;

const git = (dir: string, ...args: string[]): string =>
  execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    encoding: 'utf8',
  }).trim();

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  root = await rootWithBusybox();
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-gitd-'));
  repo = join(work, 'work');
  const served = join(work, 'served');
  bare = join(served, 'repo.git');
  await mkdir(join(repo, 'sub/deeper'), { recursive: true });
  await mkdir(served);
  execFileSync('git', ['init', '--quiet', '-b', 'main', repo]);
  await writeFile(join(repo, 'README'), 'version one\n');
  await writeFile(join(repo, 'sub/inner.txt'), 'inner one\n');
  await writeFile(join(repo, 'sub/deeper/leaf.txt'), 'leaf\n');
  await writeFile(join(repo, 'run.sh'), '#!/bin/sh\necho run\n', { mode: 0o755 });
  git(repo, 'add', '.');
  git(repo, 'commit', '--quiet', '-m', 'one');
  git(repo, 'tag', '-a', '-m', 'release 1', 'v1');
  await writeFile(join(repo, 'sub/inner.txt'), 'inner two\n');
  await writeFile(join(repo, 'README'), 'version two\n');
  git(repo, 'commit', '--quiet', '-am', 'two');
  execFileSync('git', ['clone', '--quiet', '--bare', repo, bare]);
  git(repo, 'remote', 'add', 'origin', bare);
  daemon = await startGitDaemon(served);
});

afterAll(async () => {
  await daemon?.stop();
  if (root !== '') await rm(root, { recursive: true, force: true });
  if (work !== '') await rm(work, { recursive: true, force: true });
});

let builds = 0;

async function build(dockerfile: string): Promise<CliResult & { out: string }> {
  const context = join(work, `ctx-${String(++builds)}`);
  const out = `${context}-out`;
  await mkdir(context);
  await writeFile(join(context, 'Dockerfile'), dockerfile);
  const result = runTbuild(['build', '--progress=plain', '-o', `type=local,dest=${out}`, context], {
    root,
  });
  expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
  expect(result.code, result.stderr).toBe(0);
  return { ...result, out };
}

function needs(ctx: TestContext): string {
  requires(ctx, 'root', 'overlay', 'busybox', 'git');
  if (daemon === undefined) throw new Error('git daemon did not start');
  return `${daemon.url}/repo.git`;
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * The Dockerfile steps (`[i/n] …` rows of plain progress) that ran rather than hit the
 * cache. A row's header repeats when its output resumes, and an ADD of git shows both its
 * fetch and its copy under the step's name (as BuildKit names the git source after the
 * step): one entry per name, sorted.
 */
function stepsRun(stderr: string): string[] {
  const steps = [...stderr.matchAll(/^#(\d+) \[\d+\/\d+\] (.*)$/gm)];
  expect(steps.length, stderr).toBeGreaterThan(0);
  const ran = steps
    .filter(([, id]) => !new RegExp(`^#${id ?? ''} CACHED$`, 'm').test(stderr))
    .map(([, , name]) => name ?? '');
  return [...new Set(ran)].sort();
}

describe('ADD git://… through a Dockerfile build', () => {
  it('checks out a branch and a tag:subdir, with and without --keep-git-dir, caches, and picks up a new commit', async (ctx) => {
    const url = needs(ctx);
    const dockerfile = [
      'FROM scratch',
      `ADD ${url}#v1:sub /sub`,
      `ADD ${url}#main /src`,
      `ADD --keep-git-dir=true ${url}#main /kept`,
      '',
    ].join('\n');

    const first = await build(dockerfile);
    const read = (path: string): Promise<string> => readFile(join(first.out, path), 'utf8');
    expect(await read('src/README')).toBe('version two\n');
    expect(await read('src/sub/inner.txt')).toBe('inner two\n');
    expect(await read('src/sub/deeper/leaf.txt')).toBe('leaf\n');
    expect((await stat(join(first.out, 'src/run.sh'))).mode & 0o111).not.toBe(0);
    expect(await exists(join(first.out, 'src/.git'))).toBe(false);
    // The tag's subdirectory only: its contents at v1, not the directory itself.
    expect((await readdir(join(first.out, 'sub'))).sort()).toEqual(['deeper', 'inner.txt']);
    expect(await read('sub/inner.txt')).toBe('inner one\n');
    expect(await read('kept/README')).toBe('version two\n');
    expect((await stat(join(first.out, 'kept/.git'))).isDirectory()).toBe(true);
    expect(git(join(first.out, 'kept'), 'rev-parse', 'HEAD')).toBe(git(bare, 'rev-parse', 'main'));

    // Nothing changed on the remote: every step is a cache hit.
    const again = await build(dockerfile);
    expect(stepsRun(again.stderr)).toEqual([]);
    expect(await readFile(join(again.out, 'src/README'), 'utf8')).toBe('version two\n');

    // A new commit on main: the branch steps rebuild with it, the tag's step stays cached.
    await writeFile(join(repo, 'README'), 'version three\n');
    await writeFile(join(repo, 'added.txt'), 'new file\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '--quiet', '-m', 'three');
    git(repo, 'push', '--quiet', 'origin', 'main');
    const moved = await build(dockerfile);
    expect(stepsRun(moved.stderr)).toEqual(
      [`ADD ${url}#main /src`, `ADD --keep-git-dir=true ${url}#main /kept`].sort(),
    );
    expect(await readFile(join(moved.out, 'src/README'), 'utf8')).toBe('version three\n');
    expect(await readFile(join(moved.out, 'src/added.txt'), 'utf8')).toBe('new file\n');
    expect(await readFile(join(moved.out, 'kept/added.txt'), 'utf8')).toBe('new file\n');
    expect(git(join(moved.out, 'kept'), 'rev-parse', 'HEAD')).toBe(git(repo, 'rev-parse', 'HEAD'));
    expect(await readFile(join(moved.out, 'sub/inner.txt'), 'utf8')).toBe('inner one\n');
  });

  it('fails with exit code 1 and names the ref when the branch does not exist', async (ctx) => {
    const url = needs(ctx);
    const context = join(work, 'ctx-missing');
    await mkdir(context);
    await writeFile(join(context, 'Dockerfile'), `FROM scratch\nADD ${url}#no-such-branch /x\n`);
    const result = runTbuild(['build', '--progress=plain', context], { root });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no-such-branch');
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});
