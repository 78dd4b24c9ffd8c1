import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { requires, runTbuild, useBuildRoot, type CliResult } from '../harness/index.js';

/**
 * ADD end to end through the built CLI: URLs from a local HTTP server (with and without
 * --checksum, cache hits and misses), git repositories (served over git's dumb HTTP
 * protocol by the same server) and local archives extracted into the destination.
 *
 * STATIC_SERVER is a static file server, run as its own process because the CLI harness blocks the
 * test's event loop (spawnSync). Serves argv[1] on 127.0.0.1 with Last-Modified from the
 * file's mtime (git's dumb HTTP protocol needs nothing more), appends each request to
 * argv[2], and prints its port on stdout.
 */
const STATIC_SERVER = `
import { createReadStream } from 'node:fs';
import { appendFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join, normalize } from 'node:path';

const [, root = '.', log = '/dev/null'] = process.argv;

const server = createServer((request, response) => {
  const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
  const file = join(root, normalize(path));
  void appendFile(log, \`\${request.method ?? 'GET'} \${path}\n\`).then(async () => {
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) {
      response.writeHead(404).end('not found');
      return;
    }
    response.writeHead(200, {
      'content-length': String(info.size),
      'last-modified': info.mtime.toUTCString(),
    });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file).pipe(response);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(\`\${String(typeof address === 'object' && address ? address.port : 0)}\n\`);
});
`;

let root = '';
let work = '';
let server: ChildProcess | undefined;
let base = '';
let served = '';
let requestLog = '';

useBuildRoot('tbuild-e2e-add-', (dirs) => {
  ({ root, work } = dirs);
});

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  served = join(work, 'served');
  requestLog = join(work, 'requests.log');
  await mkdir(served);
  await writeFile(requestLog, '');
  server = spawn(
    process.execPath,
    ['--input-type=module', '-e', STATIC_SERVER, served, requestLog],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [chunk] = (await once(server.stdout ?? server, 'data')) as [Buffer];
  base = `http://127.0.0.1:${chunk.toString().trim()}`;
});

afterAll(() => {
  server?.kill();
});

let builds = 0;

/** Builds `dockerfile` in a fresh context holding `files`; the filesystem lands in `out`. */
async function build(
  dockerfile: string,
  files: Record<string, string | Buffer> = {},
): Promise<CliResult & { out: string; context: string }> {
  const context = join(work, `ctx-${String(++builds)}`);
  const out = `${context}-out`;
  await mkdir(context);
  await writeFile(join(context, 'Dockerfile'), dockerfile);
  for (const [name, data] of Object.entries(files)) await writeFile(join(context, name), data);
  const result = runTbuild(['build', '--progress=plain', '-o', `type=local,dest=${out}`, context], {
    root,
  });
  return { ...result, out, context };
}

function ok(result: CliResult): void {
  expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
  expect(result.code, result.stderr).toBe(0);
}

const sha256 = (data: string | Buffer): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function requestsSince(mark: number): Promise<string[]> {
  return (await readFile(requestLog, 'utf8')).split('\n').filter(Boolean).slice(mark);
}

async function requestCount(): Promise<number> {
  return (await requestsSince(0)).length;
}

function require_(ctx: TestContext): void {
  requires(ctx, 'root', 'overlay', 'busybox');
}

describe('ADD <url>', () => {
  it('downloads to the destination as mode 0600, keys on the content, and re-downloads changed content', async (ctx) => {
    require_(ctx);
    await writeFile(join(served, 'plain.txt'), 'first\n');
    const dockerfile = `FROM busybox\nADD ${base}/plain.txt /dl/\nADD --chmod=644 ${base}/plain.txt /renamed.txt\n`;
    const first = await build(dockerfile);
    ok(first);
    expect(await readFile(join(first.out, 'dl/plain.txt'), 'utf8')).toBe('first\n');
    expect((await stat(join(first.out, 'dl/plain.txt'))).mode & 0o7777).toBe(0o600);
    expect((await stat(join(first.out, 'renamed.txt'))).mode & 0o7777).toBe(0o644);

    // Unchanged content: fetched again (only the content tells), but the last step is a hit.
    const mark = await requestCount();
    const again = await build(dockerfile);
    ok(again);
    expect(await requestsSince(mark)).toContain('GET /plain.txt');
    expect(again.stderr).toMatch(/\/renamed\.txt\n#\d+ CACHED/);

    await writeFile(join(served, 'plain.txt'), 'second\n');
    const changed = await build(dockerfile);
    ok(changed);
    expect(await readFile(join(changed.out, 'dl/plain.txt'), 'utf8')).toBe('second\n');
    expect(await readFile(join(changed.out, 'renamed.txt'), 'utf8')).toBe('second\n');
    expect(changed.stderr).not.toMatch(/(\/dl\/|renamed\.txt)\n#\d+ CACHED/);
  });

  it('with a right --checksum, is cached on rebuild without any request', async (ctx) => {
    require_(ctx);
    const data = 'pinned content\n';
    await writeFile(join(served, 'pinned.txt'), data);
    const dockerfile = `FROM busybox\nADD --checksum=${sha256(data)} ${base}/pinned.txt /p/x.txt\n`;
    const first = await build(dockerfile);
    ok(first);
    expect(await readFile(join(first.out, 'p/x.txt'), 'utf8')).toBe(data);

    const mark = await requestCount();
    const again = await build(dockerfile);
    ok(again);
    expect(await requestsSince(mark)).toEqual([]);
    expect(again.stderr).toMatch(/CACHED/);
  });

  it('with a wrong --checksum, fails with a clear error and exit code 1', async (ctx) => {
    require_(ctx);
    await writeFile(join(served, 'wrong.txt'), 'not what you think\n');
    const wrong = sha256('something else');
    const result = await build(`FROM busybox\nADD --checksum=${wrong} ${base}/wrong.txt /w/\n`);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/checksum mismatch/);
    expect(result.stderr).toContain(wrong);
    expect(result.stderr).toContain(sha256('not what you think\n'));
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('does not unpack a remote archive', async (ctx) => {
    require_(ctx);
    const tree = join(work, 'remote-tree');
    await mkdir(tree, { recursive: true });
    await writeFile(join(tree, 'inside.txt'), 'inside\n');
    execFileSync('tar', ['-C', tree, '-czf', join(served, 'remote.tar.gz'), '.']);
    const result = await build(`FROM busybox\nADD ${base}/remote.tar.gz /r/\n`);
    ok(result);
    expect((await stat(join(result.out, 'r/remote.tar.gz'))).isFile()).toBe(true);
  });
});

describe('ADD <git repository>', () => {
  let first = '';
  let url = '';

  beforeAll(async () => {
    if (process.getuid?.() !== 0) return;
    const repo = join(work, 'git-work');
    const git = (...args: string[]): string =>
      execFileSync(
        'git',
        ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args],
        { encoding: 'utf8' },
      ).trim();
    await mkdir(join(repo, 'sub'), { recursive: true });
    execFileSync('git', ['init', '--quiet', '-b', 'main', repo]);
    await writeFile(join(repo, 'README'), 'one\n');
    await writeFile(join(repo, 'sub/inner.txt'), 'inner\n');
    git('add', '.');
    git('commit', '--quiet', '-m', 'one');
    git('tag', '-a', '-m', 'v1', 'v1');
    first = git('rev-parse', 'HEAD');
    await writeFile(join(repo, 'README'), 'two\n');
    git('commit', '--quiet', '-am', 'two');
    const bare = join(served, 'repo.git');
    execFileSync('git', ['clone', '--quiet', '--bare', repo, bare]);
    execFileSync('git', ['-C', bare, 'update-server-info']);
    url = `${base}/repo.git`;
  });

  it('checks out a branch, a tag, a commit, a subdirectory and a repository with .git', async (ctx) => {
    require_(ctx);
    const result = await build(
      [
        'FROM busybox',
        `ADD ${url}#main /branch/`,
        `ADD ${url}#v1 /tag`,
        `ADD ${url}#${first} /commit/`,
        `ADD ${url}#main:sub /subdir/`,
        `ADD --keep-git-dir ${url}#main /kept/`,
        `ADD --checksum=${first} ${url}#v1 /pinned/`,
        '',
      ].join('\n'),
    );
    ok(result);
    const read = (path: string): Promise<string> => readFile(join(result.out, path), 'utf8');
    const missing = (path: string): Promise<boolean> =>
      stat(join(result.out, path)).then(
        () => false,
        () => true,
      );
    expect(await read('branch/README')).toBe('two\n');
    expect(await read('branch/sub/inner.txt')).toBe('inner\n');
    expect(await missing('branch/.git')).toBe(true);
    expect(await read('tag/README')).toBe('one\n');
    expect(await read('commit/README')).toBe('one\n');
    expect(await read('subdir/inner.txt')).toBe('inner\n');
    expect(await missing('subdir/README')).toBe(true);
    expect(await read('kept/README')).toBe('two\n');
    expect((await stat(join(result.out, 'kept/.git'))).isDirectory()).toBe(true);
    expect(await read('pinned/README')).toBe('one\n');
  });

  it('fails on a --checksum that is not the commit', async (ctx) => {
    require_(ctx);
    const result = await build(`FROM busybox\nADD --checksum=${'0'.repeat(40)} ${url}#main /x/\n`);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/checksum mismatch/);
  });
});

describe('ADD <local archive>', () => {
  it('extracts tar.gz, tar.bz2 and tar.xz into the destination directory, and copies other files', async (ctx) => {
    require_(ctx);
    const tree = join(work, 'archive-tree');
    await mkdir(join(tree, 'd'), { recursive: true });
    await writeFile(join(tree, 'd/f.txt'), 'f\n');
    await writeFile(join(tree, 'top.txt'), 'top\n');
    const archive = (flag: string): Buffer =>
      execFileSync('tar', ['-C', tree, flag, '-cf', '-', '.'], { maxBuffer: 1 << 24 });
    const result = await build(
      [
        'FROM busybox',
        'ADD a.tar.gz /gz',
        'ADD a.tar.bz2 /bz2/',
        'ADD a.tar.xz /xz/',
        'ADD --chown=5:6 a.tar.gz /owned/',
        'ADD fake.tar.gz /fake/',
        'ADD plain.txt /plain/',
        '',
      ].join('\n'),
      {
        'a.tar.gz': archive('-z'),
        'a.tar.bz2': archive('-j'),
        'a.tar.xz': archive('-J'),
        'fake.tar.gz': execFileSync('gzip', ['-c'], { input: 'not a tar\n' }),
        'plain.txt': 'plain\n',
      },
    );
    ok(result);
    for (const dir of ['gz', 'bz2', 'xz', 'owned']) {
      expect(await readFile(join(result.out, dir, 'd/f.txt'), 'utf8')).toBe('f\n');
      expect(await readFile(join(result.out, dir, 'top.txt'), 'utf8')).toBe('top\n');
    }
    const owned = await stat(join(result.out, 'owned/d/f.txt'));
    expect([owned.uid, owned.gid]).toEqual([5, 6]);
    expect((await stat(join(result.out, 'fake/fake.tar.gz'))).isFile()).toBe(true);
    expect(await readFile(join(result.out, 'plain/plain.txt'), 'utf8')).toBe('plain\n');
  });
});
