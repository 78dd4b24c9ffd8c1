/**
 * Remote cache benchmark (issue #12), against a fresh local docker-registry:
 *
 * 1. import: a cache of 10,000 records (chains of three layers over 10,500 layer
 *    descriptors) written as `--cache-to type=local` writes it, then `importCache` of
 *    it, timed in this process (target ≤ 0.3 s). The registry form reads the same
 *    record blob after one manifest GET.
 * 2. a clean machine: `tbuild build` of Dockerfile.examples/multi-stage in a fresh root
 *    holding busybox only, with no cache, with `--cache-from` a mode=max registry
 *    cache, and with `--cache-from` an image pushed with an inline cache (medians).
 *
 *   npm run build && npx tsx bench/remote-cache/run.ts [--runs N]
 *
 * Not scripted here yet: BuildKit's inline cache on the same build (dockerd 20.10,
 * `DOCKER_BUILDKIT=1 docker build --cache-from`), and the mode=max export overhead of
 * the 20k-file context of bench/builds/realistic.ts when nothing changed.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { digestHex, sha256Digest, type Digest } from '../../core/index.js';
import type { RemoteLayer } from '../../worker/engine/index.js';
import {
  CACHE_CONFIG_MEDIA_TYPE,
  encodeCacheConfig,
  importCache,
} from '../../worker/remote-cache/index.js';
import { cacheManifest } from '../../worker/remote-cache/format.js';
import { REPO_ROOT, rootWithBusybox, startRegistry } from '../../test/harness/index.js';
import { formatMs, median } from '../lib.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 3) || 3;
const signal = new AbortController().signal;
const TBUILD = path.join(REPO_ROOT, 'bin/tbuild.js');

function layer(n: number): RemoteLayer {
  return {
    descriptor: {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: sha256Digest(`blob ${String(n)}`),
      size: 1000 + n,
    },
    diffId: sha256Digest(`diff ${String(n)}`),
  };
}

/** 10,000 records as an OCI layout (the record blob and manifest only: layers are never read). */
async function bigCacheDir(dir: string): Promise<void> {
  const records = new Map<Digest, RemoteLayer[]>();
  for (let n = 0; n < 10_000; n++)
    records.set(sha256Digest(`key ${String(n)}`), [layer(0), layer(n % 500), layer(500 + n)]);
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = async (bytes: Buffer): Promise<Digest> => {
    const digest = sha256Digest(bytes);
    await writeFile(path.join(dir, 'blobs', 'sha256', digestHex(digest)), bytes);
    return digest;
  };
  const { config, bytes } = encodeCacheConfig(records);
  const configDigest = await put(bytes);
  const manifest = cacheManifest(
    { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: configDigest, size: bytes.length },
    config.layers.map((entry) => entry.descriptor),
    true,
  );
  const manifestDigest = await put(manifest.bytes);
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: manifest.mediaType,
          digest: manifestDigest,
          size: manifest.bytes.length,
          annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        },
      ],
    }),
  );
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  console.log(`record blob: ${String(bytes.length)} bytes`);
}

function tbuild(root: string, extra: readonly string[]): number {
  const started = performance.now();
  const done = spawnSync(
    process.execPath,
    [
      TBUILD,
      'build',
      '--progress=plain',
      ...extra,
      path.join(REPO_ROOT, 'Dockerfile.examples/multi-stage'),
    ],
    { env: { ...process.env, TBUILD_ROOT: root }, encoding: 'utf8' },
  );
  if (done.status !== 0) throw new Error(`tbuild build failed:\n${done.stderr}`);
  return performance.now() - started;
}

const work = await mkdtemp(path.join(tmpdir(), 'tbuild-bench-remote-cache-'));
const registry = await startRegistry();
try {
  // 1. Import of a 10,000-record cache.
  const dir = path.join(work, 'big-cache');
  await bigCacheDir(dir);
  const local: number[] = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    await importCache({ type: 'local', src: dir }, { client: undefined, signal });
    local.push(performance.now() - started);
  }
  console.log(`import 10,000 records from a directory: median ${formatMs(median(local))}`);

  // 2. A clean machine with each kind of cache.
  const seed = await rootWithBusybox();
  const maxRef = `${registry.host}/bench/cache:max`;
  const inlineRef = `${registry.host}/bench/app:inline`;
  tbuild(seed, ['--cache-to', `type=registry,ref=${maxRef},mode=max`]);
  tbuild(seed, ['--cache-to', 'type=inline', '-o', `type=image,name=${inlineRef},push=true`]);
  const times: Record<string, number[]> = { none: [], max: [], inline: [] };
  for (let run = 0; run < runs; run++) {
    for (const [name, extra] of [
      ['none', []],
      ['max', ['--cache-from', maxRef]],
      ['inline', ['--cache-from', inlineRef]],
    ] as const) {
      const root = await rootWithBusybox();
      try {
        times[name]?.push(tbuild(root, extra));
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    }
  }
  for (const [name, values] of Object.entries(times))
    console.log(`clean machine, cache ${name}: median ${formatMs(median(values))}`);
  await rm(seed, { recursive: true, force: true });
} finally {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
}
