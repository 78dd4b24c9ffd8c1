import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
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
  writeContext,
  type CliResult,
  type FaultProxy,
  type FaultRule,
  type TestRegistry,
} from '../harness/index.js';

/**
 * Whole builds whose `FROM` pulls, and whose `--push` pushes, through the harness's
 * fault proxy (429, 5xx, resets, slow, truncated and corrupted bodies). Each build either
 * gets through by retrying, with the right content, or fails with a clear error (exit 1,
 * naming the image or blob, no stack trace); either way the store is left sound (the
 * next build without faults succeeds, du and images work) and the registry never holds
 * a corrupted image (skopeo reads back what was pushed).
 */

// Async: skopeo may talk to the proxy, which this process serves.
const run = promisify(execFile);
const MANIFEST = /\/manifests\//;
const BLOBS = /\/blobs\/sha256:/;
const UPLOADS = /\/blobs\/uploads\//;

let registry: TestRegistry | undefined;
let proxy: FaultProxy | undefined;
let work = '';
let busyboxRoot = '';
/** The seeded base image: its layer and config digests, and the sha256 of its /big.bin. */
let base: { layers: string[]; config: string; bigSum: string } = {
  layers: [],
  config: '',
  bigSum: '',
};

function needs(ctx: TestContext): { registry: TestRegistry; proxy: FaultProxy } {
  requires(ctx, 'root', 'overlay', 'busybox', 'docker-registry', 'skopeo');
  if (registry === undefined || proxy === undefined) throw new Error('registry did not start');
  return { registry, proxy };
}

/** Runs the built CLI without blocking the event loop (the proxy answers in this process). */
async function tbuild(args: string[], root: string): Promise<CliResult> {
  const result = await runTbuildAsync(args, {
    root,
    env: { DOCKER_CONFIG: join(work, 'docker-config') },
  });
  // Whatever happens, no stack trace reaches the user.
  expect(result.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
  return result;
}

function context(name: string, dockerfile: string): Promise<string> {
  return writeContext(join(work, name), { Dockerfile: dockerfile });
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

function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

function faults(rules: FaultRule[]): FaultProxy {
  const via = proxy as FaultProxy;
  via.setRules(rules);
  via.requests.length = 0;
  return via;
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  registry = await startRegistry();
  proxy = await startFaultProxy(registry);
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-faults-'));
  busyboxRoot = await rootWithBusybox();
  // A base with a 3 MB random layer, pushed straight to the registry (no faults).
  const dir = await context(
    'seed',
    'FROM busybox\nRUN head -c 3000000 /dev/urandom > /big.bin && sha256sum /big.bin | cut -d" " -f1 > /big.sha\n',
  );
  const seeded = await tbuild(
    ['build', '-q', '-o', `type=image,name=${registry.host}/faults/base:v1,push=true`, dir],
    busyboxRoot,
  );
  if (seeded.code !== 0) throw new Error(`seeding the base image failed:\n${seeded.stderr}`);
  const manifest = JSON.parse(await skopeoRaw(`${registry.host}/faults/base:v1`)) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  const out = join(work, 'seed-out');
  const exported = await tbuild(['build', '-q', '-o', `type=local,dest=${out}`, dir], busyboxRoot);
  if (exported.code !== 0) throw new Error(`exporting the seed failed:\n${exported.stderr}`);
  base = {
    layers: manifest.layers.map((layer) => layer.digest),
    config: manifest.config.digest,
    bigSum: (await readFile(join(out, 'big.sha'), 'utf8')).trim(),
  };
}, 180_000);

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
  for (const dir of [work, busyboxRoot])
    if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** A build on the base pulled through the proxy; returns its result and exported files. */
async function buildOnBase(root: string, name: string): Promise<CliResult & { out: string }> {
  const host = (proxy as FaultProxy).host;
  const dir = await context(
    `on-base-${name}`,
    `FROM ${host}/faults/base:v1\nRUN sha256sum /big.bin | cut -d" " -f1 > /check.sha\n`,
  );
  const out = join(work, `out-${name}`);
  const result = await tbuild(
    ['build', '--progress=plain', '-o', `type=local,dest=${out}`, dir],
    root,
  );
  return { ...result, out };
}

/** The base's big file arrived intact: checked inside the build and in the export. */
async function expectIntact(out: string): Promise<void> {
  expect((await readFile(join(out, 'check.sha'), 'utf8')).trim()).toBe(base.bigSum);
  expect(sha256(await readFile(join(out, 'big.bin')))).toBe(base.bigSum);
}

/** After a failure: a clean build on the same root works, and du and images still read the store. */
async function expectSoundStore(root: string, name: string): Promise<void> {
  faults([]);
  const again = await buildOnBase(root, `${name}-again`);
  expect(again.code, again.stderr).toBe(0);
  await expectIntact(again.out);
  const du = await tbuild(['du'], root);
  expect(du.code, du.stderr).toBe(0);
  expect(du.stdout).toMatch(/Total:/);
  const images = await tbuild(['images'], root);
  expect(images.code, images.stderr).toBe(0);
  expect(images.stdout).toContain('faults/base');
}

async function freshRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tbuild-e2e-faults-root-'));
}

describe('builds pulling through faults', () => {
  it('get through 429, 5xx, resets, truncated, slow and corrupted-then-refetched bodies', async (ctx) => {
    needs(ctx);
    const [big] = base.layers.slice(-1);
    const via = faults([
      {
        method: 'GET',
        path: MANIFEST,
        fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } },
      },
      { method: 'GET', path: MANIFEST, fault: { kind: 'status', status: 500 } },
      { method: 'GET', path: MANIFEST, fault: { kind: 'corrupt' } },
      // The config is small and read into memory: a corrupted copy is fetched again.
      { method: 'GET', path: new RegExp(base.config), fault: { kind: 'corrupt' } },
      { method: 'GET', path: BLOBS, fault: { kind: 'reset' }, times: 2 },
      { method: 'GET', path: BLOBS, fault: { kind: 'status', status: 503 } },
      {
        method: 'GET',
        path: new RegExp(big ?? 'none'),
        fault: { kind: 'truncate', afterBytes: 700_000 },
      },
      { method: 'GET', path: new RegExp(big ?? 'none'), fault: { kind: 'slow', chunkDelayMs: 5 } },
    ]);
    const root = await freshRoot();
    try {
      const built = await buildOnBase(root, 'retries');
      expect(built.code, built.stderr).toBe(0);
      await expectIntact(built.out);
      const fired = via.requests.flatMap((r) => (r.fault === undefined ? [] : [r.fault]));
      expect(fired.sort()).toEqual(
        [
          'corrupt',
          'corrupt',
          'reset',
          'reset',
          'slow',
          'status',
          'status',
          'status',
          'truncate',
        ].sort(),
      );
      await expectSoundStore(root, 'retries');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 180_000);

  it('fails clearly on a layer with wrong bytes, and stores nothing of it', async (ctx) => {
    needs(ctx);
    const [big] = base.layers.slice(-1);
    faults([{ method: 'GET', path: new RegExp(big ?? 'none'), fault: { kind: 'corrupt' } }]);
    const root = await freshRoot();
    try {
      const built = await buildOnBase(root, 'corrupt');
      expect(built.code).toBe(1);
      expect(built.stderr).toContain(big);
      expect(built.stderr).toMatch(/hashes to|digest/);
      expect(built.stderr).toContain('faults/base');
      await expectSoundStore(root, 'corrupt');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 180_000);

  it('gives up clearly when a blob keeps failing, then recovers', async (ctx) => {
    needs(ctx);
    const [big] = base.layers.slice(-1);
    faults([
      {
        method: 'GET',
        path: new RegExp(big ?? 'none'),
        fault: { kind: 'status', status: 500 },
        times: Infinity,
      },
    ]);
    const root = await freshRoot();
    try {
      const built = await buildOnBase(root, 'down');
      expect(built.code).toBe(1);
      expect(built.stderr).toContain(big);
      expect(built.stderr).toMatch(/answered 500/);
      expect(built.stderr).toContain('hint: the registry or the network kept failing');
      // It retried (five attempts by default) before giving up.
      const tries = (proxy as FaultProxy).requests.filter((r) => r.path.includes(big ?? 'none'));
      expect(tries.length).toBeGreaterThanOrEqual(5);
      await expectSoundStore(root, 'down');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 180_000);

  it('fails clearly when a truncated body never completes', async (ctx) => {
    needs(ctx);
    const [big] = base.layers.slice(-1);
    faults([
      {
        method: 'GET',
        path: new RegExp(big ?? 'none'),
        fault: { kind: 'truncate', afterBytes: 100_000 },
        times: Infinity,
      },
    ]);
    const root = await freshRoot();
    try {
      const built = await buildOnBase(root, 'truncated');
      expect(built.code).toBe(1);
      expect(built.stderr).toContain(big);
      expect(built.stderr).toMatch(/hint: .*network/);
      await expectSoundStore(root, 'truncated');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('pushes through faults', () => {
  it('push through 5xx, resets and 429 and the registry holds exactly the image built', async (ctx) => {
    const { registry: direct, proxy: via } = needs(ctx);
    faults([
      { method: 'POST', path: UPLOADS, fault: { kind: 'status', status: 500 } },
      { method: 'PUT', path: UPLOADS, fault: { kind: 'reset' } },
      { method: 'PATCH', path: UPLOADS, fault: { kind: 'status', status: 502 } },
      {
        method: 'PUT',
        path: MANIFEST,
        fault: { kind: 'status', status: 429, headers: { 'retry-after': '0' } },
      },
      { method: 'PUT', path: MANIFEST, fault: { kind: 'status', status: 503 } },
    ]);
    const dir = await context(
      'pushed',
      'FROM busybox\nRUN head -c 2000000 /dev/urandom > /pushed.bin && sha256sum /pushed.bin | cut -d" " -f1 > /pushed.sha\n',
    );
    const pushed = await tbuild(
      ['build', '-q', '--push', '-t', `${via.host}/faults/pushed:v1`, dir],
      busyboxRoot,
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    // -q prints the image ID, the config's digest (as buildx).
    const imageId = pushed.stdout.trim();
    expect(via.requests.filter((r) => r.fault !== undefined).length).toBeGreaterThanOrEqual(3);

    // Read back around the proxy: the image is the one printed, every blob verifies (skopeo
    // checks digests on copy) and the file is whole.
    const raw = await skopeoRaw(`${direct.host}/faults/pushed:v1`);
    expect(configDigestOf(raw)).toBe(imageId);
    const layout = join(work, 'pushed-oci');
    await run('skopeo', [
      'copy',
      '--src-tls-verify=false',
      `docker://${direct.host}/faults/pushed:v1`,
      `oci:${layout}:pushed`,
    ]);
    const unpacked = join(work, 'pushed-unpacked');
    await run('umoci', ['raw', 'unpack', '--rootless', '--image', `${layout}:pushed`, unpacked]);
    const file = await readFile(join(unpacked, 'pushed.bin'));
    expect(sha256(file)).toBe((await readFile(join(unpacked, 'pushed.sha'), 'utf8')).trim());
  }, 180_000);

  it('a push that cannot succeed fails clearly and tags nothing', async (ctx) => {
    const { registry: direct, proxy: via } = needs(ctx);
    faults([
      { method: 'PUT', path: MANIFEST, fault: { kind: 'status', status: 500 }, times: Infinity },
    ]);
    const dir = await context('never-pushed', 'FROM busybox\nRUN echo never > /never.txt\n');
    const pushed = await tbuild(
      ['build', '-q', '--push', '-t', `${via.host}/faults/never:v1`, dir],
      busyboxRoot,
    );
    expect(pushed.code).toBe(1);
    expect(pushed.stderr).toContain('faults/never');
    expect(pushed.stderr).toMatch(/answered 500/);
    const missing = await skopeoRaw(`${direct.host}/faults/never:v1`).catch(
      (error: unknown) => error,
    );
    expect(missing).toBeInstanceOf(Error);
    // The next push, without faults, goes through.
    faults([]);
    const again = await tbuild(
      ['build', '-q', '--push', '-t', `${via.host}/faults/never:v1`, dir],
      busyboxRoot,
    );
    expect(again.code, again.stderr).toBe(0);
    expect(configDigestOf(await skopeoRaw(`${direct.host}/faults/never:v1`))).toBe(
      again.stdout.trim(),
    );
  }, 180_000);
});

/** The config digest (the image ID) a manifest names. */
function configDigestOf(manifest: string | Buffer): string {
  return (JSON.parse(manifest.toString()) as { config: { digest: string } }).config.digest;
}
