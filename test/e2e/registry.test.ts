import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  requires,
  rootWithBusybox,
  runTbuildAsync,
  startRegistry,
  writeContext,
  type CliResult,
  type TestRegistry,
} from '../harness/index.js';

/**
 * `FROM`, `COPY --from` and `RUN --mount=from` on registry images, `--push`,
 * `tbuild pull|push|login|logout`, against Debian's docker-registry. Digests are
 * checked with skopeo, and "no network" with the registry's own access log.
 */
const PASSWORD = 'pa55-e2e-Secret-w0rd';
let plain: TestRegistry | undefined;
let guarded: TestRegistry | undefined;
let work = '';
let builderRoot = '';
let dockerConfig = '';

function needs(ctx: TestContext): { plain: TestRegistry; guarded: TestRegistry } {
  requires(ctx, 'root', 'overlay', 'busybox', 'docker-registry', 'skopeo');
  if (plain === undefined || guarded === undefined) throw new Error('registries did not start');
  return { plain, guarded };
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  plain = await startRegistry();
  guarded = await startRegistry({ auth: { kind: 'htpasswd', users: { tester: PASSWORD } } });
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-registry-'));
  builderRoot = await rootWithBusybox();
  dockerConfig = join(work, 'docker-config');
}, 120_000);

afterAll(async () => {
  await plain?.stop();
  await guarded?.stop();
  for (const dir of [work, builderRoot])
    if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/**
 * Runs the built CLI with its own docker config dir, without blocking the event loop
 * (the registries' logs are read by this process while tbuild runs). Every output is
 * checked to hold no password.
 */
async function tbuild(args: string[], root: string, input?: string): Promise<CliResult> {
  const result = await runTbuildAsync(args, {
    root,
    env: { DOCKER_CONFIG: dockerConfig },
    ...(input === undefined ? {} : { input }),
  });
  expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  expect(result.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
  return result;
}

function context(name: string, dockerfile: string): Promise<string> {
  return writeContext(join(work, name), { Dockerfile: dockerfile });
}

function skopeoRaw(ref: string, creds?: string): string {
  return execFileSync(
    'skopeo',
    [
      'inspect',
      '--raw',
      '--tls-verify=false',
      ...(creds === undefined ? [] : ['--creds', creds]),
      `docker://${ref}`,
    ],
    { encoding: 'utf8' },
  );
}

function skopeoDigest(ref: string, creds?: string): string {
  return `sha256:${createHash('sha256').update(skopeoRaw(ref, creds)).digest('hex')}`;
}

/** Requests the registry served so far (its access log lines, once its output is read). */
async function served(registry: TestRegistry): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  return registry
    .logs()
    .split('\n')
    .filter((line) => /"(GET|HEAD|PUT|POST|PATCH) \/v2\//.test(line)).length;
}

/** The digest of the manifest a build wrote, from its --metadata-file (-q prints the image ID). */
async function manifestWritten(metadataFile: string): Promise<string> {
  const metadata = JSON.parse(await readFile(metadataFile, 'utf8')) as Record<string, unknown>;
  const digest = metadata['containerimage.digest'];
  expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  return String(digest);
}

async function buildPush(registry: TestRegistry, name: string, text: string): Promise<string> {
  const dir = await context(`base-${text}`, `FROM busybox\nRUN echo ${text} > /base.txt\n`);
  const metadataFile = join(work, `metadata-${text}.json`);
  const result = await tbuild(
    [
      'build',
      '-q',
      '--metadata-file',
      metadataFile,
      '-o',
      `type=image,name=${registry.host}/${name},push=true`,
      dir,
    ],
    builderRoot,
  );
  expect(result.code, result.stderr).toBe(0);
  return manifestWritten(metadataFile);
}

describe('registry images in builds', () => {
  it('pushes a build, pulls it into a fresh root, reuses it offline and re-resolves with --pull', async (ctx) => {
    const { plain: registry } = needs(ctx);
    const first = await buildPush(registry, 'e2e/base:v1', 'one');
    expect(skopeoDigest(`${registry.host}/e2e/base:v1`)).toBe(first);
    // --push with -t does the same as push=true.
    const other = await context('other', 'FROM busybox\nRUN echo other > /other.txt\n');
    const otherMetadata = join(work, 'metadata-other.json');
    const pushed = await tbuild(
      [
        'build',
        '-q',
        '--metadata-file',
        otherMetadata,
        '--push',
        '-t',
        `${registry.host}/e2e/other:v1`,
        other,
      ],
      builderRoot,
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(skopeoDigest(`${registry.host}/e2e/other:v1`)).toBe(
      await manifestWritten(otherMetadata),
    );
    expect(JSON.parse(skopeoRaw(`${registry.host}/e2e/other:v1`))).toMatchObject({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
    });
    const dockerMetadata = join(work, 'metadata-docker.json');
    const docker = await tbuild(
      [
        'build',
        '-q',
        '--metadata-file',
        dockerMetadata,
        '-o',
        `type=image,name=${registry.host}/e2e/docker:v1,push=true,oci-mediatypes=false`,
        other,
      ],
      builderRoot,
    );
    expect(docker.code, docker.stderr).toBe(0);
    expect(skopeoDigest(`${registry.host}/e2e/docker:v1`)).toBe(
      await manifestWritten(dockerMetadata),
    );
    expect(JSON.parse(skopeoRaw(`${registry.host}/e2e/docker:v1`))).toMatchObject({
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' }, {}],
    });

    const fresh = await mkdtemp(join(tmpdir(), 'tbuild-e2e-fresh-'));
    try {
      const dir = await context(
        'consumer',
        [
          `FROM ${registry.host}/e2e/base:v1`,
          `COPY --from=${registry.host}/e2e/other:v1 /other.txt /copied.txt`,
          `RUN --mount=from=${registry.host}/e2e/other:v1,target=/o cat /base.txt /o/other.txt > /mounted.txt`,
          '',
        ].join('\n'),
      );
      const out = (n: number): string => join(work, `consumer-out-${String(n)}`);
      const built = await tbuild(['build', '-o', `type=local,dest=${out(1)}`, dir], fresh);
      expect(built.code, built.stderr).toBe(0);
      expect(await readFile(join(out(1), 'base.txt'), 'utf8')).toBe('one\n');
      expect(await readFile(join(out(1), 'copied.txt'), 'utf8')).toBe('other\n');
      expect(await readFile(join(out(1), 'mounted.txt'), 'utf8')).toBe('one\nother\n');

      // A second build (a changed step, so it runs) needs nothing from the registry.
      await writeFile(
        join(dir, 'Dockerfile'),
        `FROM ${registry.host}/e2e/base:v1\nRUN cat /base.txt > /again.txt\n`,
      );
      const before = await served(registry);
      expect(before).toBeGreaterThan(0);
      const again = await tbuild(['build', '-o', `type=local,dest=${out(2)}`, dir], fresh);
      expect(again.code, again.stderr).toBe(0);
      expect(await readFile(join(out(2), 'again.txt'), 'utf8')).toBe('one\n');
      expect(await served(registry)).toBe(before);

      // The tag moves: without --pull the local copy stays, with --pull the new one is used.
      await buildPush(registry, 'e2e/base:v1', 'two');
      const stale = await tbuild(['build', '-o', `type=local,dest=${out(3)}`, dir], fresh);
      expect(stale.code, stale.stderr).toBe(0);
      expect(await readFile(join(out(3), 'again.txt'), 'utf8')).toBe('one\n');
      const pulled = await tbuild(
        ['build', '--pull', '-o', `type=local,dest=${out(4)}`, dir],
        fresh,
      );
      expect(pulled.code, pulled.stderr).toBe(0);
      expect(await readFile(join(out(4), 'again.txt'), 'utf8')).toBe('two\n');
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  }, 300_000);

  it('pulls from one registry and pushes to another after login; fails without it', async (ctx) => {
    const { plain: source, guarded: target } = needs(ctx);
    const digest = await buildPush(source, 'e2e/copyme:v1', 'copy');
    const fresh = await mkdtemp(join(tmpdir(), 'tbuild-e2e-copy-'));
    try {
      const pull = await tbuild(['pull', `${source.host}/e2e/copyme:v1`], fresh);
      expect(pull.code, pull.stderr).toBe(0);
      expect(pull.stdout.trim()).toBe(`${source.host}/e2e/copyme:v1`);
      expect(pull.stderr).toContain(`Digest: ${digest}`);

      const destination = `${target.host}/team/copied:v1`;
      const denied = await tbuild(['push', `${source.host}/e2e/copyme:v1`, destination], fresh);
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toMatch(/TB_REGISTRY_AUTH|log in/);

      const wrong = await tbuild(
        ['login', target.host, '-u', 'tester', '--password-stdin'],
        fresh,
        'nope\n',
      );
      expect(wrong.code).not.toBe(0);
      const login = await tbuild(
        ['login', target.host, '-u', 'tester', '--password-stdin'],
        fresh,
        `${PASSWORD}\n`,
      );
      expect(login.code, login.stderr).toBe(0);
      expect(login.stdout).toContain('Login Succeeded');
      const config = JSON.parse(await readFile(join(dockerConfig, 'config.json'), 'utf8')) as {
        auths: Record<string, { auth: string }>;
      };
      expect(Buffer.from(config.auths[target.host]?.auth ?? '', 'base64').toString()).toBe(
        `tester:${PASSWORD}`,
      );

      const push = await tbuild(['push', '-q', `${source.host}/e2e/copyme:v1`, destination], fresh);
      expect(push.code, push.stderr).toBe(0);
      expect(push.stdout.trim()).toBe(digest);
      expect(skopeoDigest(destination, `tester:${PASSWORD}`)).toBe(digest);

      // A build on the copy, pushed beside it in the same registry, mounts the shared layers.
      const dir = await context('on-copy', `FROM ${destination}\nRUN echo more > /more.txt\n`);
      const appMetadata = join(work, 'metadata-app.json');
      const built = await tbuild(
        [
          'build',
          '-q',
          '--metadata-file',
          appMetadata,
          '-o',
          `type=image,name=${target.host}/team/app:v1,push=true`,
          dir,
        ],
        fresh,
      );
      expect(built.code, built.stderr).toBe(0);
      expect(skopeoDigest(`${target.host}/team/app:v1`, `tester:${PASSWORD}`)).toBe(
        await manifestWritten(appMetadata),
      );
      await served(target);
      expect(target.logs()).toMatch(/mount=sha256/);

      const logout = await tbuild(['logout', target.host], fresh);
      expect(logout.code, logout.stderr).toBe(0);
      const after = await tbuild(['push', `${source.host}/e2e/copyme:v1`, destination], fresh);
      expect(after.code).not.toBe(0);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  }, 300_000);
});
