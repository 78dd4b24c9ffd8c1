import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requires, runTbuild, useBuildRoot } from '../harness/index.js';

/**
 * Builds whose result once differed from BuildKit's without any error (issue #15).
 * Each expectation was checked against Docker 20.10's BuildKit
 * (`DOCKER_BUILDKIT=1 docker build -o type=local`) and names its source of truth.
 */
let root = '';
let work = '';

useBuildRoot('tbuild-parity-', (dirs) => {
  ({ root, work } = dirs);
});

function build(
  name: string,
  files: Record<string, string>,
  prepare?: (dir: string) => void,
  flags: readonly string[] = [],
) {
  const context = join(work, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(context, path, '..'), { recursive: true });
    writeFileSync(join(context, path), content);
  }
  prepare?.(context);
  const out = join(work, `${name}-out`);
  const result = runTbuild(
    ['build', '--progress=plain', ...flags, '-o', `type=local,dest=${out}`, context],
    { root },
  );
  expect(result.code, result.stderr).toBe(0);
  return out;
}

const modeOf = (path: string): number => lstatSync(path).mode & 0o7777;

describe('results as BuildKit gives them', () => {
  it('expands every pair of one ENV with the env from before it', (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    // The Dockerfile reference, ENV: `ENV abc=bye def=$abc` gives def the old abc. ARG
    // pairs expand in order since the dockerfile frontend 1.10 (moby/buildkit 47a52a17b);
    // Docker 20.10's older frontend expanded them as ENV's (Y empty).
    const out = build('env', {
      Dockerfile: [
        'FROM busybox',
        'ENV A=first',
        'ENV A=second B=$A',
        'ARG X=one Y=$X',
        'RUN echo "$A $B $Y" > /seen',
        '',
      ].join('\n'),
    });
    expect(readFileSync(join(out, 'seen'), 'utf8')).toBe('second first one\n');
  });

  it('keeps what a .dockerignore exception names inside an excluded directory', (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    // Docker's .dockerignore: `drop` then `!drop/important.txt` sends drop/important.txt
    // and its parent as it is (tonistiigi/fsutil filter.go walks the excluded directory).
    const out = build(
      'ignore',
      {
        '.dockerignore': 'drop\n!drop/important.txt\n',
        'drop/important.txt': 'kept\n',
        'drop/other.txt': 'left out\n',
        'drop/sub/deeper.txt': 'left out\n',
        'keep/k': 'k\n',
        Dockerfile: 'FROM scratch\nCOPY . /ctx/\nCOPY drop /named/\n',
      },
      (dir) => {
        chmodSync(join(dir, 'drop'), 0o750);
      },
    );
    expect(readdirSync(join(out, 'ctx/drop'))).toEqual(['important.txt']);
    expect(modeOf(join(out, 'ctx/drop'))).toBe(0o750);
    expect(readFileSync(join(out, 'ctx/drop/important.txt'), 'utf8')).toBe('kept\n');
    expect(readdirSync(join(out, 'named'))).toEqual(['important.txt']);
  });

  it('hides what .dockerignore leaves out from a bind mount of the context', (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    // BuildKit mounts the context as its client sent it, without the excluded files.
    const out = build('bind-ignore', {
      '.dockerignore': 'secret.env\ndrop\n!drop/important.txt\n',
      'secret.env': 'TOKEN=1\n',
      'drop/important.txt': 'kept\n',
      'drop/other.txt': 'left out\n',
      visible: 'v\n',
      Dockerfile: [
        'FROM busybox',
        'RUN --mount=type=bind,target=/ctx find /ctx | sort > /seen',
        'RUN --mount=type=bind,target=/ctx,rw rm /ctx/visible && find /ctx | sort > /seen-rw',
        '',
      ].join('\n'),
    });
    const seen = ['/ctx', '/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/drop'];
    expect(readFileSync(join(out, 'seen'), 'utf8')).toBe(
      [...seen, '/ctx/drop/important.txt', '/ctx/visible', ''].join('\n'),
    );
    expect(readFileSync(join(out, 'seen-rw'), 'utf8')).toBe(
      [...seen, '/ctx/drop/important.txt', ''].join('\n'),
    );
  });

  it('copies a directory’s contents into a 0755 destination, keeping an existing one’s mode', (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    // moby/buildkit#1941 and fsutil copy.Copy: the destination of a directory's contents is
    // made 0755 (MkdirAll), not given the source directory's mode; an existing one is kept.
    const out = build('contents', {
      Dockerfile: [
        'FROM busybox AS src',
        'RUN mkdir -p /some/dir && chmod 0700 /some/dir && echo x > /some/dir/f && ln -s /some/dir /some/link',
        'FROM busybox',
        'RUN mkdir -m 1777 /shared',
        'COPY --from=src /some/dir/. /new/',
        'COPY --from=src /some/link /via-link/',
        'COPY --from=src /some/dir /shared/',
        '',
      ].join('\n'),
    });
    expect(modeOf(join(out, 'new'))).toBe(0o755);
    expect(readdirSync(join(out, 'new'))).toEqual(['f']);
    expect(modeOf(join(out, 'via-link'))).toBe(0o755);
    expect(readdirSync(join(out, 'via-link'))).toEqual(['f']);
    expect(modeOf(join(out, 'shared'))).toBe(0o1777);
  });

  it('gives the ssh agent socket the mount’s owner and mode (root’s, 0600, by default)', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    // BuildKit serves the agent on a socket of the step's own (session/sshforward), made
    // with the mount's uid, gid and mode; checked on Docker 20.10: "1000 1001 640", "0 0 600".
    const agentPath = join(work, 'agent.sock');
    const agent = createServer((socket) => {
      socket.end();
    });
    await new Promise<void>((resolve) => {
      agent.listen(agentPath, resolve);
    });
    try {
      const out = build(
        'ssh',
        {
          Dockerfile: [
            'FROM busybox',
            'RUN --mount=type=ssh,uid=1000,gid=1001,mode=0640 stat -c "%u %g %a" "$SSH_AUTH_SOCK" > /seen',
            'RUN --mount=type=ssh stat -c "%u %g %a" "$SSH_AUTH_SOCK" > /seen-default',
            '',
          ].join('\n'),
        },
        undefined,
        ['--ssh', `default=${agentPath}`],
      );
      expect(readFileSync(join(out, 'seen'), 'utf8')).toBe('1000 1001 640\n');
      expect(readFileSync(join(out, 'seen-default'), 'utf8')).toBe('0 0 600\n');
    } finally {
      await new Promise<void>((resolve) => {
        agent.close(() => {
          resolve();
        });
      });
    }
  });

  it('starts a cache mount from the stage directory its from= and source= name', (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    // The Dockerfile reference, RUN --mount=type=cache: `from` is the "build stage, context,
    // or image name to use as a base of the cache mount", `source` the subpath in it.
    const out = build('cache-from', {
      Dockerfile: [
        'FROM busybox AS seed',
        'RUN mkdir -p /cachesrc && echo seeded > /cachesrc/seed',
        'FROM busybox',
        'RUN --mount=type=cache,target=/c,from=seed,source=/cachesrc cat /c/seed > /seen',
        '',
      ].join('\n'),
    });
    expect(readFileSync(join(out, 'seen'), 'utf8')).toBe('seeded\n');
  });
});
