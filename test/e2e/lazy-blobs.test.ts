import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  REPO_ROOT,
  requires,
  rootWithBusybox,
  runTbuildAsync,
  startRegistry,
  writeContext,
  type CliResult,
  type TestRegistry,
} from '../harness/index.js';

/**
 * The local image store keeps a built image uncompressed: its config and its
 * layers' snapshots. A blob is made when something needs the bytes (a push,
 * `tbuild push` later, an archive), once per layer and settings, and a push of
 * blobs the registry has reads none of them. -q, --iidfile and
 * --metadata-file name the image as buildx does, reproducibly with
 * SOURCE_DATE_EPOCH.
 */
let registry: TestRegistry | undefined;
let work = '';
const roots: string[] = [];

const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };
const DOCKERFILE =
  'FROM busybox\nRUN head -c 1000000 /dev/urandom > /random.bin\nCOPY data.txt /data.txt\n';

function needs(ctx: TestContext): TestRegistry {
  requires(ctx, 'root', 'overlay', 'busybox', 'docker-registry', 'skopeo');
  if (registry === undefined) throw new Error('the registry did not start');
  return registry;
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-lazy-'));
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  for (const dir of [work, ...roots])
    if (dir !== '') await rm(dir, { recursive: true, force: true });
});

async function freshRoot(): Promise<string> {
  const root = await rootWithBusybox();
  roots.push(root);
  return root;
}

async function tbuild(
  args: string[],
  root: string,
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  const result = await runTbuildAsync(args, { root, env: { SOURCE_DATE_EPOCH: '', ...env } });
  expect(result.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
  return result;
}

function ok(result: CliResult): CliResult {
  expect(result.code, result.stderr).toBe(0);
  return result;
}

/** The blobs of a root's content store, by digest. */
async function blobs(root: string): Promise<Set<string>> {
  const names = await readdir(join(root, 'v1/blobs/sha256'));
  return new Set(names.map((hex) => `sha256:${hex}`));
}

function added(after: Set<string>, before: Set<string>): string[] {
  return [...after].filter((digest) => !before.has(digest));
}

async function metadata(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
}

function skopeoManifest(ref: string): { digest: string; config: string; layers: string[] } {
  const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
  const parsed = JSON.parse(raw.toString()) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  return {
    digest: `sha256:${execFileSync('sha256sum', { input: raw }).toString().split(' ')[0] ?? ''}`,
    config: parsed.config.digest,
    layers: parsed.layers.map((layer) => layer.digest),
  };
}

describe('images of the local store without blobs', () => {
  it('a -t build compresses nothing; tbuild push later makes the blobs once; a push the registry has reads none', async (ctx) => {
    const { host } = needs(ctx);
    const root = await freshRoot();
    const dir = await writeContext(join(work, 'ctx'), {
      Dockerfile: DOCKERFILE,
      'data.txt': 'one\n',
    });
    const name = `${host}/e2e/lazy:1`;
    const iidfile = join(work, 'iid');
    const metadataFile = join(work, 'metadata.json');
    const before = await blobs(root);
    const built = ok(
      await tbuild(
        ['build', '-q', '--iidfile', iidfile, '--metadata-file', metadataFile, '-t', name, dir],
        root,
      ),
    );
    // -q, --iidfile and the metadata name the image ID, the config's digest; no manifest was made.
    const imageId = await readFile(iidfile, 'utf8');
    expect(imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(built.stdout).toBe(`${imageId}\n`);
    const written = await metadata(metadataFile);
    expect(written['containerimage.config.digest']).toBe(imageId);
    expect(written).not.toHaveProperty('containerimage.digest');
    // The build stored two small documents (the config and the image's record), no layer.
    const made = added(await blobs(root), before);
    expect(made).toHaveLength(2);
    expect(made).toContain(imageId);
    for (const digest of made) {
      const text = await readFile(join(root, 'v1/blobs/sha256', digest.slice(7)), 'utf8');
      expect(() => JSON.parse(text) as unknown).not.toThrow();
    }
    const listed = ok(await tbuild(['images', '--format', '{{json .}}', name], root));
    expect(JSON.parse(listed.stdout)).toMatchObject({ Digest: '<none>' });

    // Pushed later: the layers are compressed now, and the registry has the image.
    const beforePush = await blobs(root);
    const pushed = ok(await tbuild(['push', '-q', name], root));
    const manifestDigest = pushed.stdout.trim();
    const remote = skopeoManifest(name);
    expect(remote.digest).toBe(manifestDigest);
    expect(remote.config).toBe(imageId);
    const compressed = added(await blobs(root), beforePush);
    // The two layers built here and the manifest; the base image's layer kept its own blob.
    expect(compressed).toHaveLength(3);
    expect(compressed).toContain(manifestDigest);
    const ownLayers = remote.layers.filter((digest) => compressed.includes(digest));
    expect(ownLayers).toHaveLength(2);
    const inspected = ok(
      await tbuild(['image', 'inspect', '-f', '{{json .RepoDigests}}', name], root),
    );
    expect(JSON.parse(inspected.stdout)).toEqual([`${host}/e2e/lazy@${manifestDigest}`]);

    // Pushed again under another name: the blobs made are reused, none is made again.
    const again = ok(await tbuild(['push', '-q', name, `${host}/e2e/lazy-copy:1`], root));
    expect(again.stdout.trim()).toBe(manifestDigest);
    expect(await blobs(root)).toEqual(new Set([...beforePush, ...compressed]));

    // Damaged here, the layers are still pushed where the registry has them: nothing is read.
    for (const digest of ownLayers) {
      const path = join(root, 'v1/blobs/sha256', digest.slice(7));
      const bytes = await readFile(path);
      await writeFile(path, Buffer.alloc(bytes.length, 0x42));
    }
    const unread = ok(await tbuild(['push', name], root));
    expect(unread.stderr).toMatch(/Layer already exists/);
    expect(unread.stderr).not.toMatch(/Pushed/);
    expect(skopeoManifest(name).digest).toBe(manifestDigest);
  }, 300_000);

  it('SOURCE_DATE_EPOCH gives the same image ID and manifest on two roots, whichever output made the manifest', async (ctx) => {
    const { host } = needs(ctx);
    const dir = await writeContext(join(work, 'repro'), {
      Dockerfile: 'FROM busybox\nRUN echo same > /same.txt\nCOPY data.txt /data.txt\n',
      'data.txt': 'same\n',
    });
    // One root: into the local store, pushed later.
    const first = await freshRoot();
    const name = `${host}/e2e/repro:1`;
    const stored = ok(await tbuild(['build', '-q', '-t', name, dir], first, EPOCH));
    const pushed = ok(await tbuild(['push', '-q', name], first));
    // The other: an OCI archive and a push from the build itself.
    const second = await freshRoot();
    const metadataFile = join(work, 'repro-metadata.json');
    ok(
      await tbuild(
        [
          'build',
          '--metadata-file',
          metadataFile,
          '-o',
          `type=oci,dest=${join(work, 'repro.tar')}`,
          '-o',
          `type=image,name=${host}/e2e/repro:2,push=true`,
          dir,
        ],
        second,
        EPOCH,
      ),
    );
    const written = await metadata(metadataFile);
    expect(written['containerimage.config.digest']).toBe(stored.stdout.trim());
    expect(written['containerimage.digest']).toBe(pushed.stdout.trim());
    expect(skopeoManifest(`${host}/e2e/repro:2`).digest).toBe(pushed.stdout.trim());
  }, 300_000);

  it('prune keeps the layers of a stored image: FROM it and a push still work after prune --all', async (ctx) => {
    const { host } = needs(ctx);
    const root = await freshRoot();
    const dir = await writeContext(join(work, 'pruned'), {
      Dockerfile: DOCKERFILE,
      'data.txt': 'pruned\n',
    });
    const name = `${host}/e2e/pruned:1`;
    ok(await tbuild(['build', '-q', '-t', name, dir], root));
    ok(await tbuild(['prune', '--all', '--force'], root));
    const user = await writeContext(join(work, 'user'), {
      Dockerfile: `FROM ${name}\nRUN cat /data.txt > /seen.txt\n`,
    });
    const out = join(work, 'user-out');
    ok(await tbuild(['build', '-q', '-o', `type=local,dest=${out}`, user], root));
    expect(await readFile(join(out, 'seen.txt'), 'utf8')).toBe('pruned\n');
    const pushed = ok(await tbuild(['push', '-q', name], root));
    expect(skopeoManifest(name).digest).toBe(pushed.stdout.trim());
  }, 300_000);

  it('a push killed with SIGKILL leaves a root the next push completes', async (ctx) => {
    const { host } = needs(ctx);
    const root = await freshRoot();
    const dir = await writeContext(join(work, 'killed'), {
      Dockerfile: 'FROM busybox\nRUN head -c 8000000 /dev/urandom > /big.bin\n',
    });
    const name = `${host}/e2e/killed:1`;
    ok(await tbuild(['build', '-q', '-t', name, dir], root));
    // Killed as soon as it has written something to say it runs (or when it ends first).
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/tbuild.js'), 'push', name], {
      env: { ...process.env, TBUILD_ROOT: root },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const ended = new Promise<number | null>((resolve) => child.on('close', resolve));
    await Promise.race([
      ended,
      new Promise((resolve) => {
        child.stdout.once('data', resolve);
        child.stderr.once('data', resolve);
        setTimeout(resolve, 500);
      }),
    ]);
    child.kill('SIGKILL');
    await ended;
    const pushed = ok(await tbuild(['push', '-q', name], root));
    expect(skopeoManifest(name).digest).toBe(pushed.stdout.trim());
    const du = ok(await tbuild(['du'], root));
    expect(du.stdout).toMatch(/Total:/);
  }, 300_000);
});
