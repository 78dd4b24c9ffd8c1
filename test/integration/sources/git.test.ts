/**
 * ADD <git repo>: a real repository made with the git CLI, fetched over file:// and over
 * dumb HTTP (a static server after `git update-server-info`, as BuildKit's own tests do;
 * it cannot serve shallow fetches, so the fallback is exercised too).
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTbuildError, neverAborted } from '../../../core/index.js';
import type { GitSource } from '../../../solver/index.js';
import { fetchGit, gitCacheKey, resolveGitCommit } from '../../../worker/index.js';
import { startHttpServer, type TestHttpServer } from './http-server.js';

let base: string;
let repo: string;
let server: TestHttpServer;
const commits: Record<string, string> = {};
let annotatedTagObject = '';
let destCount = 0;

function git(...args: string[]): string {
  return execFileSync(
    'git',
    [
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@example.com',
      '-c',
      'init.defaultBranch=main',
      ...args,
    ],
    { cwd: repo, encoding: 'utf8' },
  ).trim();
}

function commitFile(path: string, content: string, message: string): string {
  mkdirSync(join(repo, path, '..'), { recursive: true });
  writeFileSync(join(repo, path), content);
  git('add', '-A');
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'tbuild-gitsrc-'));
  repo = join(base, 'repo');
  mkdirSync(repo);
  git('init', '-q');
  commits['v1'] = commitFile('foo', 'foo of v1\n', 'v1');
  git('tag', 'v1');
  commits['v2'] = commitFile('sub/dir/bar', 'bar of v2\n', 'v2');
  git('tag', '-a', '-m', 'release two', 'v2-annotated');
  annotatedTagObject = git('rev-parse', 'v2-annotated');
  symlinkSync('/etc', join(repo, 'escape'));
  commits['v3'] = commitFile('foo', 'foo of v3\n', 'v3 with a symlink');
  git('checkout', '-q', '-b', 'feature');
  commits['feature'] = commitFile('foo', 'foo of feature\n', 'feature');
  git('checkout', '-q', 'main');
  git('update-server-info');
  server = await startHttpServer();
  // A static server over the repository's .git, with Basic auth, for dumb HTTP.
  const gitDir = join(repo, '.git');
  const auth = `Basic ${Buffer.from('bob:hunter2').toString('base64')}`;
  serveStatic(server, gitDir, auth);
});

afterAll(async () => {
  await server.close();
  rmSync(base, { recursive: true, force: true });
});

/** Every file under `dir` served at `/repo.git/<path>`, behind Basic auth. */
function serveStatic(target: TestHttpServer, dir: string, authorization: string): void {
  const walk = (relative: string): void => {
    for (const name of readdirSync(join(dir, relative))) {
      const path = relative === '' ? name : `${relative}/${name}`;
      if (statSync(join(dir, path)).isDirectory()) {
        walk(path);
        continue;
      }
      target.route(`/repo.git/${path}`, (request, response) => {
        if (request.headers.authorization !== authorization) {
          response.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end();
          return;
        }
        response.end(readFileSync(join(dir, path)));
      });
    }
  };
  walk('');
}

function dest(): string {
  destCount++;
  return join(base, `out-${String(destCount)}`);
}

function source(overrides: Partial<GitSource>): GitSource {
  return { type: 'git', remote: `file://${repo}`, ref: '', keepGitDir: false, ...overrides };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('fetchGit over file://', () => {
  it('checks out the default branch without .git', async () => {
    const out = dest();
    const result = await fetchGit(source({}), { destDir: out, signal: neverAborted });
    expect(result.commit).toBe(commits['v3']);
    expect(readFileSync(join(out, 'foo'), 'utf8')).toBe('foo of v3\n');
    expect(readFileSync(join(out, 'sub/dir/bar'), 'utf8')).toBe('bar of v2\n');
    expect(existsSync(join(out, '.git'))).toBe(false);
  });

  it('checks out a branch, a tag, an annotated tag, a commit and an abbreviated commit', async () => {
    const cases: Array<[string, string, string]> = [
      ['feature', commits['feature'] ?? '', 'foo of feature\n'],
      ['v1', commits['v1'] ?? '', 'foo of v1\n'],
      ['v2-annotated', commits['v2'] ?? '', 'foo of v1\n'],
      ['refs/heads/feature', commits['feature'] ?? '', 'foo of feature\n'],
      [commits['v1'] ?? '', commits['v1'] ?? '', 'foo of v1\n'],
      // No branch or lightweight tag points at this one.
      [commits['v2'] ?? '', commits['v2'] ?? '', 'foo of v1\n'],
      [(commits['feature'] ?? '').slice(0, 10), commits['feature'] ?? '', 'foo of feature\n'],
    ];
    for (const [ref, commit, foo] of cases) {
      const out = dest();
      const result = await fetchGit(source({ ref }), { destDir: out, signal: neverAborted });
      expect(result.commit, ref).toBe(commit);
      expect(readFileSync(join(out, 'foo'), 'utf8'), ref).toBe(foo);
    }
  });

  it('checks out only a subdirectory', async () => {
    const out = dest();
    await fetchGit(source({ ref: 'v2-annotated', subdir: 'sub' }), {
      destDir: out,
      signal: neverAborted,
    });
    expect(readdirSync(out)).toEqual(['dir']);
    expect(readFileSync(join(out, 'dir/bar'), 'utf8')).toBe('bar of v2\n');
  });

  it('refuses a subdirectory that is missing, climbs out, or is a symlink', async () => {
    for (const subdir of ['nope', '../..', 'escape']) {
      const error = await rejection(
        fetchGit(source({ ref: 'main', subdir }), { destDir: dest(), signal: neverAborted }),
      );
      expect(isTbuildError(error, 'TB_GIT_REF_NOT_FOUND'), subdir).toBe(true);
    }
  });

  it('keeps .git with keepGitDir: HEAD at the commit, origin redacted, no FETCH_HEAD', async () => {
    const out = dest();
    const remote = `file://${repo}`;
    const result = await fetchGit(source({ ref: 'feature', keepGitDir: true, remote }), {
      destDir: out,
      signal: neverAborted,
    });
    const inOut = (...args: string[]): string =>
      execFileSync('git', ['-C', out, ...args], { encoding: 'utf8' }).trim();
    expect(inOut('rev-parse', 'HEAD')).toBe(result.commit);
    expect(result.commit).toBe(commits['feature']);
    expect(inOut('symbolic-ref', 'HEAD')).toBe('refs/heads/feature');
    expect(inOut('status', '--porcelain')).toBe('');
    expect(inOut('remote', 'get-url', 'origin')).toBe(remote);
    expect(existsSync(join(out, '.git/FETCH_HEAD'))).toBe(false);
    expect(readFileSync(join(out, 'foo'), 'utf8')).toBe('foo of feature\n');

    const byCommit = dest();
    await fetchGit(source({ ref: commits['v1'] ?? '', keepGitDir: true }), {
      destDir: byCommit,
      signal: neverAborted,
    });
    expect(
      execFileSync('git', ['-C', byCommit, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(),
    ).toBe(commits['v1']);
  });

  it('checks --checksum against the commit (or the annotated tag object)', async () => {
    await fetchGit(source({ ref: 'v1', checksum: commits['v1'] ?? '' }), {
      destDir: dest(),
      signal: neverAborted,
    });
    await fetchGit(source({ ref: 'v2-annotated', checksum: annotatedTagObject }), {
      destDir: dest(),
      signal: neverAborted,
    });
    await fetchGit(source({ ref: 'v2-annotated', checksum: (commits['v2'] ?? '').slice(0, 12) }), {
      destDir: dest(),
      signal: neverAborted,
    });
    const wrong = dest();
    const error = await rejection(
      fetchGit(source({ ref: 'main', checksum: commits['v1'] ?? '' }), {
        destDir: wrong,
        signal: neverAborted,
      }),
    );
    expect(isTbuildError(error, 'TB_CHECKSUM_MISMATCH')).toBe(true);
    expect((error as Error).message).toContain(commits['v1']);
    expect((error as Error).message).toContain(commits['v3']);
    expect(existsSync(join(wrong, 'foo'))).toBe(false);
    const garbage = await rejection(
      fetchGit(source({ ref: 'main', checksum: 'foobar' }), {
        destDir: dest(),
        signal: neverAborted,
      }),
    );
    expect(isTbuildError(garbage, 'TB_CHECKSUM_INVALID')).toBe(true);
  });

  it('reports a missing ref and an unreachable repository', async () => {
    const missing = await rejection(
      fetchGit(source({ ref: 'no-such-branch' }), { destDir: dest(), signal: neverAborted }),
    );
    expect(isTbuildError(missing, 'TB_GIT_REF_NOT_FOUND')).toBe(true);
    const unreachable = await rejection(
      fetchGit(source({ remote: `file://${base}/nothing-here` }), {
        destDir: dest(),
        signal: neverAborted,
      }),
    );
    expect(isTbuildError(unreachable, 'TB_GIT_SOURCE')).toBe(true);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await rejection(
      fetchGit(source({}), { destDir: dest(), signal: controller.signal }),
    );
    expect(isTbuildError(error, 'TB_CANCELED')).toBe(true);
  });

  it('resolves a ref to its commit with ls-remote alone, for cache keys before a fetch', async () => {
    const resolve = (ref: string) => resolveGitCommit(source({ ref }), { signal: neverAborted });
    expect(await resolve('')).toBe(commits['v3']);
    expect(await resolve('feature')).toBe(commits['feature']);
    expect(await resolve('v2-annotated')).toBe(commits['v2']);
    expect(await resolve(commits['v1'] ?? '')).toBe(commits['v1']);
    expect(await resolve((commits['v1'] ?? '').slice(0, 9))).toBeUndefined();
    const error = await rejection(resolve('no-such-branch'));
    expect(isTbuildError(error, 'TB_GIT_REF_NOT_FOUND')).toBe(true);
  });

  it('keys the cache on commit, subdir and keepGitDir, not on the remote', () => {
    const commit = commits['v1'] ?? '';
    const key = gitCacheKey(source({}), commit);
    expect(gitCacheKey(source({ remote: 'https://mirror.example/repo.git' }), commit)).toBe(key);
    expect(gitCacheKey(source({ subdir: 'sub' }), commit)).not.toBe(key);
    expect(gitCacheKey(source({ keepGitDir: true }), commit)).not.toBe(key);
    expect(gitCacheKey(source({}), commits['v2'] ?? '')).not.toBe(key);
  });
});

describe('fetchGit over dumb HTTP with credentials', () => {
  it('fetches a tag and a subdirectory, with URL credentials', async () => {
    const remote = `${server.url.replace('http://', 'http://bob:hunter2@')}/repo.git`;
    const out = dest();
    const result = await fetchGit(source({ remote, ref: 'v2-annotated', subdir: 'sub/dir' }), {
      destDir: out,
      signal: neverAborted,
    });
    expect(result.commit).toBe(commits['v2']);
    expect(readdirSync(out)).toEqual(['bar']);

    // Dumb HTTP cannot fetch a commit by id: the fallback fetches everything.
    const byCommit = dest();
    const pinned = await fetchGit(source({ remote, ref: commits['v2'] ?? '' }), {
      destDir: byCommit,
      signal: neverAborted,
    });
    expect(pinned.commit).toBe(commits['v2']);
    expect(readFileSync(join(byCommit, 'sub/dir/bar'), 'utf8')).toBe('bar of v2\n');

    const kept = dest();
    await fetchGit(source({ remote, ref: 'feature', keepGitDir: true }), {
      destDir: kept,
      signal: neverAborted,
    });
    const origin = execFileSync('git', ['-C', kept, 'remote', 'get-url', 'origin'], {
      encoding: 'utf8',
    }).trim();
    expect(origin).toBe(`${server.url.replace('http://', 'http://xxxxx@')}/repo.git`);
    expect(readFileSync(join(kept, '.git/config'), 'utf8')).not.toContain('hunter2');
  });

  it('never prompts for a password and redacts credentials from errors', async () => {
    const remote = `${server.url.replace('http://', 'http://bob:wrong-secret@')}/repo.git`;
    const error = await rejection(
      fetchGit(source({ remote, ref: 'main' }), { destDir: dest(), signal: neverAborted }),
    );
    expect(isTbuildError(error, 'TB_GIT_SOURCE')).toBe(true);
    expect((error as Error).message).not.toContain('wrong-secret');
  });
});
