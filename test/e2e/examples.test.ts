import { execFileSync } from 'node:child_process';
import { lstat, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it, type TestContext } from 'vitest';
import { REPO_ROOT, requires, rootWithBusybox, runTbuild, useBuildRoot } from '../harness/index.js';

/**
 * Every Dockerfile.examples/* through the built CLI: the exported filesystem
 * and config are checked, and the OCI archive is read back by skopeo and
 * unpacked by umoci.
 */
let root = '';
let work = '';

useBuildRoot('tbuild-e2e-', (dirs) => {
  ({ root, work } = dirs);
});

interface Built {
  readonly digest: string;
  readonly fs: string;
  readonly archive: string;
  readonly config: { config: Record<string, unknown>; history?: { created_by?: string }[] };
}

function build(
  ctx: TestContext,
  example: string,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Built {
  requires(ctx, 'root', 'overlay', 'skopeo', 'umoci', 'busybox');
  const out = join(work, example);
  const archive = `${out}.tar`;
  const fs = `${out}-fs`;
  const result = runTbuild(
    [
      'build',
      '-q',
      '-o',
      `type=oci,dest=${archive},name=example/${example}:e2e`,
      '-o',
      `type=local,dest=${fs}`,
      ...extra,
      join('Dockerfile.examples', example),
    ],
    { root, env },
  );
  expect(result.stderr).not.toMatch(/Error: |at .*\.js:\d+/);
  expect(result.code, result.stderr).toBe(0);
  // -q prints the image ID: the config's digest, as the archive's manifest names it.
  const imageId = result.stdout.trim();
  expect(imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
  const raw = execFileSync('skopeo', ['inspect', '--raw', `oci-archive:${archive}:e2e`], {
    encoding: 'utf8',
  });
  expect((JSON.parse(raw) as { config: { digest: string } }).config.digest).toBe(imageId);
  const config = JSON.parse(
    execFileSync('skopeo', ['inspect', '--config', '--raw', `oci-archive:${archive}:e2e`], {
      encoding: 'utf8',
    }),
  ) as Built['config'];
  return { digest: imageId, fs, archive, config };
}

function umociUnpack(archive: string): string {
  const layout = `${archive}-layout`;
  const bundle = `${archive}-bundle`;
  execFileSync('mkdir', ['-p', layout]);
  execFileSync('tar', ['-xf', archive, '-C', layout]);
  execFileSync('umoci', ['unpack', '--image', `${layout}:e2e`, bundle], { stdio: 'pipe' });
  return join(bundle, 'rootfs');
}

async function mode(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o7777).toString(8);
}

describe('Dockerfile.examples through the CLI', () => {
  it('multi-stage: ships only the artifact of the build stage', async (ctx) => {
    const built = build(ctx, 'multi-stage');
    const greet = await readFile(join(built.fs, 'usr/local/bin/greet'), 'utf8');
    expect(greet).toContain('hello');
    expect(await mode(join(built.fs, 'usr/local/bin/greet'))).toBe('755');
    await expect(lstat(join(built.fs, 'src'))).rejects.toThrow();
    expect(built.config.config).toMatchObject({
      Entrypoint: ['/usr/local/bin/greet'],
      Cmd: ['world'],
      Labels: { 'org.opencontainers.image.title': 'greet' },
    });
    const rootfs = umociUnpack(built.archive);
    expect(await readFile(join(rootfs, 'usr/local/bin/greet'), 'utf8')).toBe(greet);
  });

  it('copy-link: linked layers land on the base with their owners', async (ctx) => {
    const built = build(ctx, 'copy-link');
    expect(await readdir(join(built.fs, 'srv/www'))).toEqual(
      expect.arrayContaining(['index.html', 'owned.html']),
    );
    expect((await stat(join(built.fs, 'srv/www/owned.html'))).uid).toBe(1000);
    expect(built.config.config).toMatchObject({
      WorkingDir: '/srv/www',
      ExposedPorts: { '8080/tcp': {} },
    });
    const rootfs = umociUnpack(built.archive);
    expect(await readFile(join(rootfs, 'srv/www/index.html'), 'utf8')).toBe(
      await readFile(join(REPO_ROOT, 'Dockerfile.examples/copy-link/site/index.html'), 'utf8'),
    );
  });

  it('heredoc: scripts run and files are written, expanded or literal', async (ctx) => {
    const built = build(ctx, 'heredoc', ['--build-arg', 'GREETING=bonjour']);
    expect(await readFile(join(built.fs, 'etc/app/origin'), 'utf8')).toBe('built with a heredoc\n');
    expect(await readFile(join(built.fs, 'etc/app/shebang'), 'utf8')).toContain('#! line');
    expect(await readFile(join(built.fs, 'etc/app/config.ini'), 'utf8')).toContain(
      'greeting=bonjour',
    );
    expect(await readFile(join(built.fs, 'usr/local/bin/show'), 'utf8')).toContain('"$@"');
    expect(await mode(join(built.fs, 'usr/local/bin/show'))).toBe('755');
  });

  it('cache-mount: results land in the image, the cache does not', async (ctx) => {
    const built = build(ctx, 'cache-mount');
    const packages = (
      await readFile(join(REPO_ROOT, 'Dockerfile.examples/cache-mount/packages.txt'), 'utf8')
    )
      .trim()
      .split('\n');
    expect(
      (await readdir(join(built.fs, 'app'))).filter((name) => name.endsWith('.pkg')).sort(),
    ).toEqual(packages.map((name) => `${name}.pkg`).sort());
    const cacheDir = await readdir(join(built.fs, 'var/cache/downloads')).catch(() => []);
    expect(cacheDir).toEqual([]);
  });

  it('non-root: files owned by the new user, config runs as it', async (ctx) => {
    const built = build(ctx, 'non-root');
    const entrypoint = await stat(join(built.fs, 'usr/local/bin/entrypoint'));
    expect([entrypoint.uid, entrypoint.gid]).toEqual([10001, 10001]);
    expect(await mode(join(built.fs, 'usr/local/bin/entrypoint'))).toBe('755');
    expect((await stat(join(built.fs, 'home/svc/data'))).uid).toBe(10001);
    expect(built.config.config).toMatchObject({
      User: 'svc:svc',
      WorkingDir: '/home/svc/data',
      StopSignal: 'SIGTERM',
      Healthcheck: {
        Test: ['CMD', 'id', '-u'],
        Interval: 30_000_000_000,
        Timeout: 3_000_000_000,
        Retries: 3,
      },
    });
  });

  it('secret: the step sees the secret, no layer or history holds it', async (ctx) => {
    const token = `tok-${String(Date.now())}-do-not-leak`;
    const tokenFile = join(work, 'token.txt');
    await writeFile(tokenFile, token);
    const built = build(ctx, 'secret', ['--secret', `id=api_token,src=${tokenFile}`], {});
    expect(await readFile(join(built.fs, 'token-size'), 'utf8')).toBe(
      `token has ${String(token.length)} bytes\n`,
    );
    expect(await readFile(join(built.fs, 'configured'), 'utf8')).toBe('configured\n');
    const layout = `${built.archive}-scan`;
    execFileSync('mkdir', ['-p', layout]);
    execFileSync('tar', ['-xf', built.archive, '-C', layout]);
    for (const blob of await readdir(join(layout, 'blobs/sha256'))) {
      const bytes = await readFile(join(layout, 'blobs/sha256', blob));
      const plain = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
      expect(plain.includes(token), `blob ${blob} holds the secret`).toBe(false);
    }
    expect(JSON.stringify(built.config)).not.toContain(token);
  });

  it('secret: a missing required secret fails with a clear error and exit code 1', (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    // --no-cache: with a cache hit the step would not run, and a cached step needs no secret.
    const result = runTbuild(
      ['build', '--no-cache', '--progress=plain', 'Dockerfile.examples/secret'],
      { root },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('secret api_token not found');
    expect(result.stderr).toContain('Dockerfile.examples/secret/Dockerfile:');
  });
});

describe('reproducible builds', () => {
  it('gives the same image digest on two empty roots with SOURCE_DATE_EPOCH', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const digests: string[] = [];
    for (let round = 0; round < 2; round++) {
      const fresh = await rootWithBusybox();
      try {
        const result = runTbuild(['build', '-q', 'Dockerfile.examples/multi-stage'], {
          root: fresh,
          env: { SOURCE_DATE_EPOCH: '1700000000' },
        });
        expect(result.code, result.stderr).toBe(0);
        digests.push(result.stdout.trim());
      } finally {
        await rm(fresh, { recursive: true, force: true });
      }
      // A second apart, so build-time clocks differ between the rounds.
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    expect(digests[0]).toMatch(/^sha256:/);
    expect(digests[1]).toBe(digests[0]);
  });
});
