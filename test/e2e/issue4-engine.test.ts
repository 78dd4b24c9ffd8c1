import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import {
  REPO_ROOT,
  requires,
  rootWithBusybox,
  runTbuild,
  useBuildRoot,
  writeContext,
  type CliResult,
} from '../harness/index.js';

/**
 * Issue #4's Engine bullets that no other e2e file exercises, through the built CLI:
 * COPY's flags and path rules, WORKDIR/USER, RUN mounts (bind from stage, context and
 * image; cache sharing modes persisting between builds; tmpfs), ONBUILD, image config and
 * history, the content-based cache (mtime vs bytes vs mode), context paths read only
 * when used, and prune's --filter until= and --keep-storage.
 */
let root = '';
let work = '';

useBuildRoot('tbuild-e2e-engine-', (dirs) => {
  ({ root, work } = dirs);
});

let contexts = 0;

/** A fresh context directory holding `files` (Dockerfile included, if given). */
function context(files: Record<string, string>): Promise<string> {
  return writeContext(join(work, `ctx-${String(++contexts)}`), files);
}

let outputs = 0;

/** Builds `dir` with plain progress, exporting the filesystem; fails the test on an error. */
function build(dir: string, extra: readonly string[] = []): CliResult & { out: string } {
  const out = join(work, `out-${String(++outputs)}`);
  const result = runTbuild(
    ['build', '--progress=plain', '-o', `type=local,dest=${out}`, ...extra, dir],
    {
      root,
    },
  );
  expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
  expect(result.code, result.stderr).toBe(0);
  return { ...result, out };
}

function needs(ctx: TestContext): void {
  requires(ctx, 'root', 'overlay', 'busybox');
}

const read = (path: string): Promise<string> => readFile(path, 'utf8');
const owner = async (path: string): Promise<[number, number]> => {
  const info = await stat(path);
  return [info.uid, info.gid];
};
const mode = async (path: string): Promise<string> =>
  ((await stat(path)).mode & 0o7777).toString(8);
const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/** Names of the Dockerfile steps (`[i/n]` rows) that ran rather than hit the cache. */
function stepsRun(stderr: string): string[] {
  const steps = [...stderr.matchAll(/^#(\d+) \[[^\]]*\d+\/\d+\] (.*)$/gm)];
  const ran = steps
    .filter(([, id]) => !new RegExp(`^#${id ?? ''} CACHED$`, 'm').test(stderr))
    .map(([, , name]) => name ?? '');
  return [...new Set(ran)];
}

describe('COPY', () => {
  it('--chown names from the image passwd/group, --chmod octal and symbolic, --parents, --exclude, wildcards and the slash rule', async (ctx) => {
    needs(ctx);
    const dir = await context({
      'a/b/f.txt': 'a-f\n',
      'a/b/skip.log': 'nested log\n',
      'a/top.log': 'top log\n',
      'a/keep.txt': 'keep\n',
      'c/b/f.txt': 'c-f\n',
      'script.sh': '#!/bin/sh\n',
      'one.md': '1\n',
      'two.md': '2\n',
      Dockerfile: [
        'FROM busybox',
        'RUN echo "builder:x:4321:5432::/home/builder:/bin/sh" >> /etc/passwd && echo "builders:x:5432:" >> /etc/group && echo "extra:x:6543:" >> /etc/group',
        'COPY --chown=builder a/keep.txt /own/user',
        'COPY --chown=builder:extra a/keep.txt /own/user-group',
        'COPY --chown=4000:extra a/keep.txt /own/uid-group',
        'COPY --chmod=u+x,g=r,o= script.sh /mode/symbolic',
        'COPY --chmod=0750 script.sh /mode/octal',
        'COPY --parents a/b/f.txt c/b/f.txt /parents/',
        'COPY --parents ./*/b/*.txt /parents-glob/',
        'COPY --exclude=*.log a /exclude-top/',
        'COPY --exclude=**/*.log a /exclude-all/',
        'COPY a /contents/',
        'COPY *.md /docs/',
        'COPY one.md /renamed',
        'COPY one.md /into-dir/',
        '',
      ].join('\n'),
    });
    await chmod(join(dir, 'script.sh'), 0o644);
    const { out } = build(dir);
    expect(await owner(join(out, 'own/user'))).toEqual([4321, 5432]);
    expect(await owner(join(out, 'own/user-group'))).toEqual([4321, 6543]);
    expect(await owner(join(out, 'own/uid-group'))).toEqual([4000, 6543]);
    expect(await mode(join(out, 'mode/symbolic'))).toBe('740');
    expect(await mode(join(out, 'mode/octal'))).toBe('750');
    expect(await read(join(out, 'parents/a/b/f.txt'))).toBe('a-f\n');
    expect(await read(join(out, 'parents/c/b/f.txt'))).toBe('c-f\n');
    expect((await readdir(join(out, 'parents-glob'))).sort()).toEqual(['a', 'c']);
    expect(await read(join(out, 'parents-glob/c/b/f.txt'))).toBe('c-f\n');
    // Exclude patterns match from the source's root, as .dockerignore patterns do.
    expect(await exists(join(out, 'exclude-top/top.log'))).toBe(false);
    expect(await exists(join(out, 'exclude-top/b/skip.log'))).toBe(true);
    expect(await exists(join(out, 'exclude-all/b/skip.log'))).toBe(false);
    expect(await read(join(out, 'exclude-all/b/f.txt'))).toBe('a-f\n');
    // A directory source copies its contents, not itself.
    expect((await readdir(join(out, 'contents'))).sort()).toEqual(['b', 'keep.txt', 'top.log']);
    expect((await readdir(join(out, 'docs'))).sort()).toEqual(['one.md', 'two.md']);
    expect(await read(join(out, 'renamed'))).toBe('1\n');
    expect(await read(join(out, 'into-dir/one.md'))).toBe('1\n');

    // Several named sources need a destination directory ending in /.
    const bad = await context({
      'x.md': 'x',
      'y.md': 'y',
      Dockerfile: 'FROM busybox\nCOPY x.md y.md /notadir\n',
    });
    const failed = runTbuild(['build', bad], { root });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/must be a directory and end with a \//);
    // An unknown user name is an error that names it.
    const unknown = await context({
      'x.md': 'x',
      Dockerfile: 'FROM busybox\nCOPY --chown=nosuchuser x.md /x\n',
    });
    const noUser = runTbuild(['build', unknown], { root });
    expect(noUser.code).toBe(1);
    expect(noUser.stderr).toContain('nosuchuser');
  });
});

describe('instructions', () => {
  it('WORKDIR creates directories, USER runs steps and the image as the user, ONBUILD triggers run in the child stage, config and history are Docker’s', async (ctx) => {
    needs(ctx);
    const dir = await context({
      Dockerfile: [
        'FROM busybox AS base',
        'ONBUILD RUN echo "trigger ran" > /onbuild',
        'RUN echo base > /base',
        '',
        'FROM base',
        'WORKDIR /deep/work/dir',
        'RUN pwd > /pwd',
        'USER app',
        'RUN id -u > /tmp/uid && touch /tmp/made-by-app',
        'USER root',
        'RUN cp /tmp/uid /uid && chown 1000 /uid',
        'USER app:app',
        'ENV GREETING=hi',
        'EXPOSE 80/udp',
        'VOLUME /data',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        '',
      ].join('\n'),
    });
    const layout = join(work, 'instructions-layout');
    const { out } = build(dir, ['-o', `type=oci,tar=false,dest=${layout}`]);
    expect(await read(join(out, 'onbuild'))).toBe('trigger ran\n');
    expect((await stat(join(out, 'deep/work/dir'))).isDirectory()).toBe(true);
    expect(await read(join(out, 'pwd'))).toBe('/deep/work/dir\n');
    expect(await read(join(out, 'uid'))).toBe('1000\n');
    expect(await owner(join(out, 'tmp/made-by-app'))).toEqual([1000, 1000]);

    const index = JSON.parse(await read(join(layout, 'index.json'))) as {
      manifests: { digest: string }[];
    };
    const blob = async (digest: string): Promise<unknown> =>
      JSON.parse(await read(join(layout, 'blobs', ...digest.split(':'))));
    const manifest = (await blob(index.manifests[0]?.digest ?? '')) as {
      config: { digest: string };
      layers: unknown[];
    };
    const image = (await blob(manifest.config.digest)) as {
      config: Record<string, unknown>;
      history: { created_by: string; empty_layer?: boolean }[];
      rootfs: { diff_ids: string[] };
    };
    expect(image.config).toMatchObject({
      User: 'app:app',
      WorkingDir: '/deep/work/dir',
      ExposedPorts: { '80/udp': {} },
      Volumes: { '/data': {} },
      Entrypoint: ['/bin/sh', '-c'],
    });
    expect(image.config['Env']).toContain('GREETING=hi');
    // The child stage's image keeps no OnBuild of its own: the triggers were consumed.
    expect(image.config['OnBuild'] ?? null).toBeNull();
    const createdBy = image.history.map((entry) => entry.created_by);
    expect(createdBy).toEqual(
      expect.arrayContaining([
        'WORKDIR /deep/work/dir',
        'USER app',
        'ENV GREETING=hi',
        'RUN /bin/sh -c pwd > /pwd # buildkit',
      ]),
    );
    // One layer per history entry that is not empty_layer.
    expect(image.history.filter((entry) => entry.empty_layer !== true)).toHaveLength(
      manifest.layers.length,
    );
    expect(image.rootfs.diff_ids).toHaveLength(manifest.layers.length);
  });
});

describe('RUN mounts', () => {
  it('bind from a stage, the context and an image; cache mounts persist between builds in every sharing mode; tmpfs leaves nothing', async (ctx) => {
    needs(ctx);
    const id = `e2e-${String(Date.now())}`;
    const dir = await context({
      'ctx.txt': 'from the context\n',
      Dockerfile: [
        'FROM busybox AS stage',
        'RUN echo "from a stage" > /made',
        'FROM busybox',
        'ARG RUNID',
        'RUN --mount=type=bind,from=stage,source=/made,target=/m cat /m > /bind-stage',
        'RUN --mount=type=bind,source=ctx.txt,target=/c cat /c > /bind-context',
        'RUN --mount=type=bind,from=busybox,source=/etc,target=/e grep -c "^root:" /e/passwd > /bind-image',
        ...['shared', 'private', 'locked'].map(
          (sharing) =>
            `RUN --mount=type=cache,id=${id}-${sharing},target=/cache,sharing=${sharing} echo "$RUNID" >> /cache/runs && cp /cache/runs /${sharing}-runs`,
        ),
        'RUN --mount=type=tmpfs,target=/scratch grep -q " /scratch tmpfs " /proc/mounts && echo x > /scratch/file && echo tmpfs > /tmpfs-seen',
        '',
      ].join('\n'),
    });
    const first = build(dir, ['--build-arg', 'RUNID=first']);
    expect(await read(join(first.out, 'bind-stage'))).toBe('from a stage\n');
    expect(await read(join(first.out, 'bind-context'))).toBe('from the context\n');
    expect(await read(join(first.out, 'bind-image'))).toBe('1\n');
    expect(await read(join(first.out, 'tmpfs-seen'))).toBe('tmpfs\n');
    expect(await exists(join(first.out, 'scratch/file'))).toBe(false);
    for (const sharing of ['shared', 'private', 'locked']) {
      expect(await read(join(first.out, `${sharing}-runs`))).toBe('first\n');
    }
    // A second build (another ARG, so the steps run again) finds the first one's cache.
    const second = build(dir, ['--build-arg', 'RUNID=second']);
    for (const sharing of ['shared', 'private', 'locked']) {
      expect(await read(join(second.out, `${sharing}-runs`))).toBe('first\nsecond\n');
    }
    // The cache never lands in the image.
    expect(await exists(join(second.out, 'cache/runs'))).toBe(false);
  });
});

describe('the content-based cache', () => {
  it('keeps the cache when only mtimes change, rebuilds from the COPY when a byte or a mode changes', async (ctx) => {
    needs(ctx);
    const dir = await context({
      'app.txt': 'version 1\n',
      Dockerfile: 'FROM busybox\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copied\n',
    });
    build(dir);
    const future = new Date(Date.now() + 3_600_000);
    await utimes(join(dir, 'app.txt'), future, future);
    expect(stepsRun(build(dir).stderr)).toEqual([]);

    await writeFile(join(dir, 'app.txt'), 'version 2\n');
    const edited = build(dir);
    expect(stepsRun(edited.stderr)).toEqual([
      'COPY app.txt /app.txt',
      'RUN cat /app.txt > /copied',
    ]);
    expect(await read(join(edited.out, 'copied'))).toBe('version 2\n');

    await chmod(join(dir, 'app.txt'), 0o600);
    const moded = build(dir);
    expect(stepsRun(moded.stderr)).toEqual(['COPY app.txt /app.txt', 'RUN cat /app.txt > /copied']);
    expect(await mode(join(moded.out, 'app.txt'))).toBe('600');
  });

  it('reads only the context paths the build uses (a FIFO elsewhere in the context is never opened)', async (ctx) => {
    needs(ctx);
    const dir = await context({
      'used.txt': 'used\n',
      Dockerfile: 'FROM busybox\nCOPY used.txt /\n',
    });
    await mkdir(join(dir, 'unused'));
    execFileSync('mkfifo', [join(dir, 'unused/pipe')]);
    // Reading the FIFO would block forever: a timeout turns that into a failure.
    const result = spawnSync(
      process.execPath,
      [join(REPO_ROOT, 'bin/tbuild.js'), 'build', '-q', dir],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, TBUILD_ROOT: root },
      },
    );
    expect(result.error).toBeUndefined();
    expect(result.status, result.stderr).toBe(0);
  });
});

describe('tbuild prune', () => {
  it('--filter until= removes only what was not used for that long; --keep-storage removes the least recently used down to the size', async (ctx) => {
    needs(ctx);
    const fresh = await rootWithBusybox();
    ctx.onTestFinished(() => rm(fresh, { recursive: true, force: true }));
    const tb = (args: readonly string[]): CliResult => runTbuild(args, { root: fresh });
    const megabytes = (name: string): Promise<string> =>
      context({ Dockerfile: `FROM busybox\nRUN head -c 3000000 /dev/urandom > /${name}\n` });
    const older = await megabytes('older');
    const newer = await megabytes('newer');
    // The RUN steps that ran (the FROM row is not a cache record).
    const ran = (dir: string): string[] => {
      const result = tb(['build', '--progress=plain', dir]);
      expect(result.code, result.stderr).toBe(0);
      return stepsRun(result.stderr).filter((name) => name.startsWith('RUN'));
    };
    // du's Total, in bytes (docker's decimal units).
    const total = (): number => {
      const text = /^Total: +([\d.]+)([kMG]?B)$/m.exec(tb(['du']).stdout);
      const units: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 };
      return Number(text?.[1] ?? NaN) * (units[text?.[2] ?? ''] ?? NaN);
    };
    const empty = total();
    expect(ran(older)).toHaveLength(1);
    const one = total() - empty;
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect(ran(newer)).toHaveLength(1);
    const both = total() - empty;
    expect(both).toBeGreaterThan(one);

    // Everything was used within the hour: nothing goes.
    const hour = tb(['prune', '-f', '--verbose', '--filter', 'until=1h']);
    expect(hour.code, hour.stderr).toBe(0);
    expect(hour.stdout).toMatch(/^Deleted cache records: +0$/m);
    expect(ran(older)).toEqual([]);
    expect(ran(newer)).toEqual([]);

    // A limit above the cache's size keeps every record.
    expect(tb(['prune', '-f', '--verbose', '--keep-storage', '1GB']).stdout).toMatch(
      /^Deleted cache records: +0$/m,
    );
    expect(ran(newer)).toEqual([]);

    // Room for one result and a half: the least recently used one goes.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(ran(newer)).toEqual([]);
    const budget = `${String(Math.round((empty + one * 1.5) / 1000))}kB`;
    const keep = tb(['prune', '-f', '--verbose', '--keep-storage', budget]);
    expect(keep.code, keep.stderr).toBe(0);
    expect(keep.stdout).not.toMatch(/^Deleted cache records: +0$/m);
    expect(ran(newer)).toEqual([]);
    expect(ran(older)).toHaveLength(1);

    // Nothing used for the last second: everything goes, and both steps run again.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const second = tb(['prune', '-f', '--verbose', '--filter', 'until=1s']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).not.toMatch(/^Deleted cache records: +0$/m);
    expect(ran(newer)).toHaveLength(1);
    // The base image is in the image store, not the cache: builds on it still work.
    expect(ran(older)).toHaveLength(1);
  });
});
