import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  requires,
  rootWithBusybox,
  runTbuildAsync,
  startFaultProxy,
  startRegistry,
  startTokenServer,
  writeContext,
  type CliResult,
  type FaultProxy,
  type TestRegistry,
  type TestTokenServer,
} from '../harness/index.js';

/**
 * `--cache-to` / `--cache-from` between two machines: each machine is a tbuild
 * root of its own holding only busybox, and the cache travels through Debian's
 * docker-registry behind the fault proxy, whose request log shows which blobs a
 * build downloaded (the byte counts are those blobs' sizes from the cache's
 * manifest). A step that runs prints a marker, so a step that did not run is
 * one whose marker is absent from the plain progress.
 */
const run = promisify(execFile);

const PASSWORD = 'cache-e2e-Secret-w0rd';
let registry: TestRegistry | undefined;
let proxy: FaultProxy | undefined;
let tokens: TestTokenServer | undefined;
let guarded: TestRegistry | undefined;
let work = '';
const roots: string[] = [];

function needs(ctx: TestContext): { registry: TestRegistry; proxy: FaultProxy } {
  requires(ctx, 'root', 'overlay', 'busybox', 'docker-registry', 'skopeo');
  if (registry === undefined || proxy === undefined) throw new Error('registry did not start');
  return { registry, proxy };
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  registry = await startRegistry();
  proxy = await startFaultProxy({ host: '127.0.0.1', port: registry.port });
  tokens = await startTokenServer({ users: { tester: PASSWORD } });
  guarded = await startRegistry({ auth: { kind: 'token', server: tokens } });
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-remote-cache-'));
}, 120_000);

afterAll(async () => {
  await guarded?.stop();
  await tokens?.stop();
  await proxy?.stop();
  await registry?.stop();
  for (const dir of [work, ...roots])
    if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** A clean machine: a new root with busybox only. */
async function machine(): Promise<string> {
  const root = await rootWithBusybox();
  roots.push(root);
  return root;
}

async function tbuild(args: string[], root: string, command = 'build'): Promise<CliResult> {
  const result = await runTbuildAsync(
    command === 'build' ? ['build', '--progress=plain', ...args] : [command, ...args],
    {
      root,
      env: { DOCKER_CONFIG: join(work, 'docker-config') },
      ...(command === 'login' ? { input: PASSWORD } : {}),
    },
  );
  expect(result.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
  expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  return result;
}

/**
 * Two stages: `build` makes a 300 kB artifact, and the final stage copies a
 * context file first, then the artifact, then runs over both. Each RUN prints
 * `ran:NAME` (spelled so that the step's name does not contain it).
 */
const DOCKERFILE = [
  'FROM busybox AS build',
  'RUN R=ran; echo $R:build && head -c 300000 /dev/urandom > /big && echo artifact > /artifact',
  'FROM busybox',
  'COPY app.txt /app.txt',
  'COPY --from=build /artifact /artifact',
  'RUN R=ran; echo $R:final && cat /app.txt /artifact > /out',
  '',
].join('\n');

async function project(name: string, app = 'app v1\n'): Promise<string> {
  return writeContext(join(work, name), { Dockerfile: DOCKERFILE, 'app.txt': app });
}

interface CacheManifest {
  config: { mediaType: string; digest: string; size: number };
  layers: { digest: string; size: number }[];
}

async function skopeoRaw(ref: string): Promise<string> {
  const { stdout } = await run('skopeo', [
    'inspect',
    '--raw',
    '--tls-verify=false',
    `docker://${ref}`,
  ]);
  return stdout;
}

/** The layer blobs the proxy served with GET since `from`, and their bytes. */
function downloaded(via: FaultProxy, from: number, sizes: ReadonlyMap<string, number>): string[] {
  return via.requests
    .slice(from)
    .filter((request) => request.method === 'GET' && /\/blobs\/sha256:/.test(request.path))
    .map((request) => /sha256:[0-9a-f]{64}/.exec(request.path)?.[0] ?? '')
    .filter((digest) => sizes.has(digest));
}

/** The build stage's layer: 300,000 random bytes do not compress (busybox's layer is larger). */
function isBuildStageLayer(layer: { size: number }): boolean {
  return layer.size > 300_000 && layer.size < 310_000;
}

function bytesOf(digests: readonly string[], sizes: ReadonlyMap<string, number>): number {
  return [...new Set(digests)].reduce((sum, digest) => sum + (sizes.get(digest) ?? 0), 0);
}

describe('remote cache through a registry', () => {
  it('mode=max: a clean machine runs no step and fetches only the bytes its output needs', async (ctx) => {
    const { proxy: via } = needs(ctx);
    const ref = `${via.host}/cache/app:max`;
    const first = await tbuild(
      ['--cache-to', `type=registry,ref=${ref},mode=max`, await project('max')],
      await machine(),
    );
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('ran:build');
    expect(first.stderr).toContain(`exporting cache to registry ${ref}`);

    // Valid OCI: skopeo reads the manifest and copies the whole cache.
    const manifest = JSON.parse(await skopeoRaw(ref)) as CacheManifest;
    expect(manifest.config.mediaType).toBe('application/vnd.tbuild.cache.config.v1+json');
    const copied = join(work, 'copied-cache');
    await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${copied}:c`]);
    const sizes = new Map(manifest.layers.map((layer) => [layer.digest, layer.size]));
    // The build stage's layer (300 kB of random bytes) is in a max cache.
    const big = manifest.layers.find(isBuildStageLayer);
    expect(big).toBeDefined();

    // Machine B builds with the cache and exports an OCI archive: nothing runs, and only
    // the final image's layers are fetched (never the build stage's big layer).
    const machineB = await machine();
    const before = via.requests.length;
    const archive = join(work, 'b.tar');
    const second = await tbuild(
      ['--cache-from', ref, '-o', `type=oci,dest=${archive}`, await project('max-b')],
      machineB,
    );
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('ran:');
    expect(second.stderr).toContain(`CACHED (from ${ref})`);
    // A cached step whose result only feeds other cached steps (the build stage's RUN
    // under the COPY --from) downloads nothing.
    const fetched = downloaded(via, before, sizes);
    expect(fetched).not.toContain(big?.digest);
    // COPY app.txt, COPY --from and the RUN: three small layers, under 10 kB in all.
    expect(new Set(fetched).size).toBe(3);
    expect(bytesOf(fetched, sizes)).toBeLessThan(10_000);
  }, 300_000);

  it('a push to the cache’s registry and a build without output download no layer', async (ctx) => {
    const { proxy: via } = needs(ctx);
    const ref = `${via.host}/cache/app:push`;
    const first = await tbuild(
      ['--cache-to', `type=registry,ref=${ref},mode=max`, await project('push')],
      await machine(),
    );
    expect(first.code, first.stderr).toBe(0);
    const manifest = JSON.parse(await skopeoRaw(ref)) as CacheManifest;
    const sizes = new Map(manifest.layers.map((layer) => [layer.digest, layer.size]));

    // Machine B pushes the cached image to another repository of the same registry:
    // every layer is mounted from the cache's repository, none is downloaded.
    const image = `${via.host}/app/pushed:1`;
    const before = via.requests.length;
    const pushed = await tbuild(
      ['--cache-from', ref, '-t', image, '--push', await project('push-b')],
      await machine(),
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stderr).not.toContain('ran:');
    const pushRequests = via.requests.slice(before);
    expect(downloaded(via, before, sizes)).toEqual([]);
    const mounts = pushRequests.filter(
      (request) => request.method === 'POST' && /[?&]mount=sha256(:|%3A)/i.test(request.path),
    );
    expect(mounts.length).toBeGreaterThan(0);
    // No layer's bytes were uploaded either: each PUT of a layer blob came with a mount.
    const uploadedLayers = pushRequests.filter(
      (request) =>
        request.method === 'PUT' && [...sizes.keys()].some((d) => request.path.includes(d)),
    );
    expect(uploadedLayers).toEqual([]);

    // The pushed image is whole: a third machine builds on it and reads its files.
    const onTop = await writeContext(join(work, 'push-c'), {
      Dockerfile: `FROM ${image}\nRUN cat /out > /copy\n`,
    });
    const archive = join(work, 'push-c.tar');
    const third = await tbuild(['-o', `type=tar,dest=${archive}`, onTop], await machine());
    expect(third.code, third.stderr).toBe(0);
    const { stdout } = await run('tar', ['-xOf', archive, 'copy']);
    expect(stdout).toBe('app v1\nartifact\n');

    // A build without an output (its image only gives the ID) downloads no layer.
    const bare = via.requests.length;
    const unnamed = await tbuild(['--cache-from', ref, await project('push-d')], await machine());
    expect(unnamed.code, unnamed.stderr).toBe(0);
    expect(unnamed.stderr).not.toContain('ran:');
    expect(downloaded(via, bare, sizes)).toEqual([]);

    // A name in the local store alone (-t NAME) fetches the final image's layer blobs
    // (a later build here reads them), never the build stage's, and the image works.
    const local = via.requests.length;
    const machineE = await machine();
    const named = await tbuild(
      ['--cache-from', ref, '-t', 'app-from-cache', await project('push-e')],
      machineE,
    );
    expect(named.code, named.stderr).toBe(0);
    expect(named.stderr).not.toContain('ran:');
    const fetched = downloaded(via, local, sizes);
    expect(new Set(fetched).size).toBe(3);
    expect(bytesOf(fetched, sizes)).toBeLessThan(10_000);
    const fromNamed = await writeContext(join(work, 'push-f'), {
      Dockerfile: 'FROM app-from-cache\nRUN cat /out > /copy\n',
    });
    const namedArchive = join(work, 'push-f.tar');
    const reused = await tbuild(['-o', `type=tar,dest=${namedArchive}`, fromNamed], machineE);
    expect(reused.code, reused.stderr).toBe(0);
    const copied = await run('tar', ['-xOf', namedArchive, 'copy']);
    expect(copied.stdout).toBe('app v1\nartifact\n');
  }, 300_000);

  it('a changed context file re-runs only the steps from it on; the rest still hits remotely', async (ctx) => {
    const { proxy: via } = needs(ctx);
    const ref = `${via.host}/cache/app:changed`;
    const first = await tbuild(
      ['--cache-to', `type=registry,ref=${ref},mode=max`, await project('changed')],
      await machine(),
    );
    expect(first.code, first.stderr).toBe(0);
    const archive = join(work, 'changed.tar');
    const second = await tbuild(
      [
        '--cache-from',
        ref,
        '-o',
        `type=tar,dest=${archive}`,
        await project('changed-b', 'app v2\n'),
      ],
      await machine(),
    );
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('ran:build');
    expect(second.stderr).toContain('ran:final');
    const { stdout } = await run('tar', ['-xOf', archive, 'out']);
    expect(stdout).toBe('app v2\nartifact\n');
  }, 300_000);

  it('image-manifest=false writes the index form, which imports the same', async (ctx) => {
    const { proxy: via } = needs(ctx);
    const ref = `${via.host}/cache/app:index`;
    const first = await tbuild(
      ['--cache-to', `type=registry,ref=${ref},mode=max,image-manifest=false`, await project('ix')],
      await machine(),
    );
    expect(first.code, first.stderr).toBe(0);
    const index = JSON.parse(await skopeoRaw(ref)) as { mediaType: string; manifests: unknown[] };
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    const second = await tbuild(['--cache-from', ref, await project('ix-b')], await machine());
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('ran:');
  }, 300_000);

  it('mode=min exports only the image’s own steps: the build stage runs again when needed', async (ctx) => {
    const { proxy: via } = needs(ctx);
    const ref = `${via.host}/cache/app:min`;
    const first = await tbuild(
      ['--cache-to', `type=registry,ref=${ref},mode=min`, await project('min')],
      await machine(),
    );
    expect(first.code, first.stderr).toBe(0);
    const manifest = JSON.parse(await skopeoRaw(ref)) as CacheManifest;
    expect(manifest.layers.some(isBuildStageLayer)).toBe(false);
    // Unchanged: every step of the final image hits.
    const same = await tbuild(['--cache-from', ref, await project('min-b')], await machine());
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).not.toContain('ran:');
    // A changed file: the COPY --from after it needs the build stage, which min did not keep.
    const changed = await tbuild(
      ['--cache-from', ref, await project('min-c', 'app v3\n')],
      await machine(),
    );
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stderr).toContain('ran:build');
  }, 300_000);
});

describe('remote cache carries cache-miss explanations', () => {
  it('a machine that never ran a step explains its miss from the explanation the cache carried', async (ctx) => {
    const { proxy: via } = needs(ctx);
    const ref = `${via.host}/cache/app:explained`;
    const dockerfile = [
      'FROM busybox',
      'ARG VERSION=1',
      'RUN R=ran; echo $R:versioned $VERSION && echo $VERSION > /version',
      '',
    ].join('\n');
    const first = await tbuild(
      [
        '--cache-to',
        `type=registry,ref=${ref},mode=max`,
        await writeContext(join(work, 'explained-a'), { Dockerfile: dockerfile }),
      ],
      await machine(),
    );
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('ran:versioned');

    // Machine B has no explanation of its own for the RUN: only the cache's.
    const second = await tbuild(
      [
        '--cache-from',
        ref,
        '--build-arg',
        'VERSION=2',
        await writeContext(join(work, 'explained-b'), { Dockerfile: dockerfile }),
      ],
      await machine(),
    );
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('ran:versioned');
    expect(second.stderr).toMatch(/#\d+ cache miss: ARG VERSION changed\n/);
  }, 300_000);
});

describe('remote cache with cache-mounts=true', () => {
  it('carries a RUN --mount=type=cache directory to a machine that builds with --no-cache', async (ctx) => {
    const { proxy: via } = needs(ctx);
    const ref = `${via.host}/cache/app:mounts`;
    const writer = await writeContext(join(work, 'mounts-a'), {
      Dockerfile:
        'FROM busybox\nRUN --mount=type=cache,target=/cache,id=shared echo written-on-a > /cache/note\n',
    });
    const first = await tbuild(
      ['--cache-to', `type=registry,ref=${ref},mode=max,cache-mounts=true`, writer],
      await machine(),
    );
    expect(first.code, first.stderr).toBe(0);
    const manifest = JSON.parse(await skopeoRaw(ref)) as CacheManifest;
    const config = JSON.parse(
      await run('skopeo', [
        'inspect',
        '--raw',
        '--config',
        '--tls-verify=false',
        `docker://${ref}`,
      ]).then((out) => out.stdout),
    ) as { cacheMounts?: Record<string, { descriptor: { digest: string } }> };
    const blob = config.cacheMounts?.['shared']?.descriptor.digest;
    expect(blob).toMatch(/^sha256:/);
    expect(manifest.layers.map((layer) => layer.digest)).toContain(blob);

    // Machine B runs its own step (--no-cache): the mount holds what machine A wrote.
    const reader = await writeContext(join(work, 'mounts-b'), {
      Dockerfile:
        'FROM busybox\nRUN --mount=type=cache,target=/cache,id=shared R=seen; echo $R:$(cat /cache/note)\n',
    });
    const second = await tbuild(['--no-cache', '--cache-from', ref, reader], await machine());
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('seen:written-on-a');

    // Without the cache the mount starts empty: the file came from it.
    const alone = await tbuild(['--no-cache', reader], await machine());
    expect(alone.stderr).not.toContain('seen:written-on-a');
  }, 300_000);
});

describe('remote cache: concurrent exports and auth', () => {
  it('two machines exporting to one ref at once leave one complete cache', async (ctx) => {
    const { proxy: via } = needs(ctx);
    const ref = `${via.host}/cache/app:race`;
    const [one, two] = await Promise.all([
      tbuild(
        ['--cache-to', `type=registry,ref=${ref},mode=max`, await project('race-1', 'one\n')],
        await machine(),
      ),
      tbuild(
        ['--cache-to', `type=registry,ref=${ref},mode=max`, await project('race-2', 'two\n')],
        await machine(),
      ),
    ]);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    // Whole: every blob the manifest names is there (skopeo copies it all).
    await run('skopeo', [
      'copy',
      '--src-tls-verify=false',
      `docker://${ref}`,
      `oci:${join(work, 'race-copy')}:c`,
    ]);
    // One of the two, not a mix: the build of its content runs nothing.
    const [again1, again2] = [
      await tbuild(['--cache-from', ref, await project('race-3', 'one\n')], await machine()),
      await tbuild(['--cache-from', ref, await project('race-4', 'two\n')], await machine()),
    ];
    expect(again1.code + again2.code).toBe(0);
    const cleanRuns = [again1, again2].filter((result) => !result.stderr.includes('ran:'));
    expect(cleanRuns).toHaveLength(1);
    // And the other machine's build stage is a hit from it either way.
    for (const result of [again1, again2]) expect(result.stderr).not.toContain('ran:build');
  }, 300_000);

  it('exports to and imports from a registry with token auth, as push and pull do', async (ctx) => {
    needs(ctx);
    if (guarded === undefined) throw new Error('token registry did not start');
    const ref = `${guarded.host}/cache/private:c`;
    const root = await machine();
    const denied = await tbuild(
      ['--cache-to', `type=registry,ref=${ref},mode=max`, await project('auth')],
      root,
    );
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('TB_CACHE_EXPORT');
    const login = await tbuild(['-u', 'tester', '--password-stdin', guarded.host], root, 'login');
    expect(login.code, login.stderr).toBe(0);
    const first = await tbuild(
      ['--cache-to', `type=registry,ref=${ref},mode=max`, await project('auth')],
      root,
    );
    expect(first.code, first.stderr).toBe(0);
    const second = await tbuild(['--cache-from', ref, await project('auth-b')], await machine());
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('ran:');
  }, 300_000);
});

describe('remote cache in a directory and inline', () => {
  it('type=local: export to a directory, import on another machine; a second export adds nothing', async (ctx) => {
    needs(ctx);
    const dir = join(work, 'local-cache');
    const machineA = await machine();
    const first = await tbuild(
      ['--cache-to', `type=local,dest=${dir},mode=max`, await project('local')],
      machineA,
    );
    expect(first.code, first.stderr).toBe(0);
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    expect(index.manifests).toHaveLength(1);
    const second = await tbuild(
      ['--cache-from', `type=local,src=${dir}`, await project('local-b')],
      await machine(),
    );
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('ran:');
    expect(second.stderr).toContain(`CACHED (from local ${dir})`);
    // Nothing changed: the same cache again, the same manifest.
    const again = await tbuild(
      ['--cache-to', `type=local,dest=${dir},mode=max`, await project('local')],
      machineA,
    );
    expect(again.code, again.stderr).toBe(0);
    const after = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as typeof index;
    expect(after.manifests[0]?.digest).toBe(index.manifests[0]?.digest);
  }, 300_000);

  it('type=inline: the pushed image carries its cache and works as a --cache-from', async (ctx) => {
    const { proxy: via } = needs(ctx);
    const image = `${via.host}/app/inline:1`;
    const first = await tbuild(
      [
        '--cache-to',
        'type=inline',
        '-o',
        `type=image,name=${image},push=true`,
        await project('inline'),
      ],
      await machine(),
    );
    expect(first.code, first.stderr).toBe(0);
    const second = await tbuild(
      ['--cache-from', image, await project('inline-b')],
      await machine(),
    );
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('ran:');
    // BUILDKIT_INLINE_CACHE=1 means the same.
    const image2 = `${via.host}/app/inline:2`;
    const third = await tbuild(
      [
        '--build-arg',
        'BUILDKIT_INLINE_CACHE=1',
        '-o',
        `type=image,name=${image2},push=true`,
        await project('inline-c'),
      ],
      await machine(),
    );
    expect(third.code, third.stderr).toBe(0);
    const fourth = await tbuild(
      ['--cache-from', image2, await project('inline-d')],
      await machine(),
    );
    expect(fourth.stderr).not.toContain('ran:');
  }, 300_000);
});

describe('remote cache faults and usage', () => {
  it('a missing ref or a registry that is down is a warning; the build goes on', async (ctx) => {
    const { proxy: via } = needs(ctx);
    const missing = await tbuild(
      ['--cache-from', `${via.host}/cache/none:nothing`, await project('missing')],
      await machine(),
    );
    expect(missing.code, missing.stderr).toBe(0);
    expect(missing.stderr).toMatch(/WARNING: cache .*none:nothing could not be imported/);
    expect(missing.stderr).toContain('ran:build');
    const down = await tbuild(
      ['--cache-from', '127.0.0.1:9/cache/app:down', await project('down')],
      await machine(),
    );
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toMatch(
      /WARNING: cache 127\.0\.0\.1:9\/cache\/app:down could not be imported/,
    );
  }, 300_000);

  it('an export failure fails the build unless ignore-error=true', async (ctx) => {
    needs(ctx);
    const root = await machine();
    const failed = await tbuild(
      ['--cache-to', 'type=registry,ref=127.0.0.1:9/cache/app:x', await project('export-fail')],
      root,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('TB_CACHE_EXPORT');
    const ignored = await tbuild(
      [
        '--cache-to',
        'type=registry,ref=127.0.0.1:9/cache/app:x,ignore-error=true',
        await project('export-fail'),
      ],
      root,
    );
    expect(ignored.code, ignored.stderr).toBe(0);
    expect(ignored.stderr).toMatch(/WARNING: exporting cache to 127\.0\.0\.1:9.*ignored/);
  }, 300_000);

  it('a cache blob with the wrong digest is named, its step runs, and the image is right', async (ctx) => {
    const { proxy: via } = needs(ctx);
    const ref = `${via.host}/cache/app:corrupt`;
    const first = await tbuild(
      ['--cache-to', `type=registry,ref=${ref},mode=max`, await project('corrupt')],
      await machine(),
    );
    expect(first.code, first.stderr).toBe(0);
    const manifest = JSON.parse(await skopeoRaw(ref)) as CacheManifest;
    // Every layer of the cache comes back with one byte changed (the record blob is intact).
    const layers = new RegExp(manifest.layers.map((layer) => layer.digest).join('|'));
    via.setRules([{ method: 'GET', path: layers, fault: { kind: 'corrupt' }, times: Infinity }]);
    const archive = join(work, 'corrupt.tar');
    try {
      const second = await tbuild(
        ['--cache-from', ref, '-o', `type=tar,dest=${archive}`, await project('corrupt-b')],
        await machine(),
      );
      expect(second.code, second.stderr).toBe(0);
      const named = manifest.layers.some((layer) =>
        new RegExp(`WARNING: cache blob ${layer.digest}`).test(second.stderr),
      );
      expect(named, second.stderr).toBe(true);
      expect(second.stderr).toContain('ran:final');
    } finally {
      via.setRules([]);
    }
    const { stdout } = await run('tar', ['-xOf', archive, 'out']);
    expect(stdout).toBe('app v1\nartifact\n');
  }, 300_000);

  it('an unknown key or value is a usage error naming it and the accepted ones', async (ctx) => {
    needs(ctx);
    const root = await machine();
    const dir = await project('usage');
    const badKey = await tbuild(['--cache-to', 'type=registry,ref=x/y:z,colour=blue', dir], root);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain('colour');
    expect(badKey.stderr).toContain('ignore-error');
    const badMode = await tbuild(['--cache-to', 'type=local,dest=/tmp/x,mode=most', dir], root);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toContain('min, max');
    const badType = await tbuild(['--cache-from', 'type=s3,ref=x', dir], root);
    expect(badType.code).toBe(2);
  }, 300_000);
});
