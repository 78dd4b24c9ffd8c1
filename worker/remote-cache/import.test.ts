import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { digestHex, isTbuildError, sha256Digest, type Digest } from '../../core/index.js';
import type { RemoteLayer } from '../engine/index.js';
import { cacheManifest, CACHE_CONFIG_MEDIA_TYPE, encodeCacheConfig } from './format.js';
import { importCache } from './import.js';
import { INLINE_CACHE_FIELD, inlineCacheValue } from './inline.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function layer(n: number): RemoteLayer {
  return {
    descriptor: {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: sha256Digest(`blob ${String(n)}`),
      size: 100 + n,
    },
    diffId: sha256Digest(`diff ${String(n)}`),
  };
}

/** An OCI layout directory holding `records` as a cache, as `--cache-to type=local` writes it. */
async function cacheDir(
  records: ReadonlyMap<Digest, readonly RemoteLayer[]>,
  imageManifest = true,
  explanations: readonly unknown[] = [],
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tbuild-cache-import-'));
  dirs.push(dir);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = async (bytes: Buffer): Promise<Digest> => {
    const digest = sha256Digest(bytes);
    await writeFile(join(dir, 'blobs', 'sha256', digestHex(digest)), bytes);
    return digest;
  };
  const { config, bytes } = encodeCacheConfig(records, explanations);
  const configDigest = await put(bytes);
  const manifest = cacheManifest(
    { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: configDigest, size: bytes.length },
    config.layers.map((entry) => entry.descriptor),
    imageManifest,
  );
  const manifestDigest = await put(manifest.bytes);
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { mediaType: manifest.mediaType, digest: manifestDigest, size: manifest.bytes.length },
      ],
    }),
  );
  return dir;
}

const signal = new AbortController().signal;

describe('importing a cache', () => {
  it('imports 10,000 records (no size cap) and resolves each key to its layer chain', async () => {
    const records = new Map<Digest, RemoteLayer[]>();
    for (let n = 0; n < 10_000; n++) {
      // Chains sharing a base, as the steps of real builds do.
      records.set(sha256Digest(`key ${String(n)}`), [layer(0), layer(n % 500), layer(n)]);
    }
    const dir = await cacheDir(records);
    const imported = await importCache({ type: 'local', src: dir }, { client: undefined, signal });
    expect(imported.records).toBe(10_000);
    const found = imported.lookup(sha256Digest('key 1234'));
    expect(found?.layers.map((entry) => entry.descriptor.digest)).toEqual(
      [layer(0), layer(234), layer(1234)].map((entry) => entry.descriptor.digest),
    );
    expect(found?.layers[2]?.diffId).toBe(layer(1234).diffId);
    expect(imported.lookup(sha256Digest('absent'))).toBeUndefined();
  });

  it('carries explanations beside the records; a cache without them imports with none', async () => {
    const records = new Map([[sha256Digest('key'), [layer(1)]]]);
    const carried = [{ version: 1, step: 'a' }, 'not a record'];
    const withThem = await cacheDir(records, true, carried);
    const imported = await importCache(
      { type: 'local', src: withThem },
      { client: undefined, signal },
    );
    expect(imported.explanations).toEqual(carried);
    const without = await cacheDir(records);
    const config = JSON.parse(
      await readFile(
        join(without, 'blobs', 'sha256', digestHex(sha256Digest(encodeCacheConfig(records).bytes))),
        'utf8',
      ),
    ) as Record<string, unknown>;
    expect(config).not.toHaveProperty('explanations');
    const old = await importCache({ type: 'local', src: without }, { client: undefined, signal });
    expect(old.explanations).toEqual([]);
    expect(old.records).toBe(1);
  });

  it('reads the index form too', async () => {
    const key = sha256Digest('one');
    const dir = await cacheDir(new Map([[key, [layer(1)]]]), false);
    const imported = await importCache({ type: 'local', src: dir }, { client: undefined, signal });
    expect(imported.lookup(key)?.layers).toHaveLength(1);
  });

  it('withdraws every record that uses a blob found bad', async () => {
    const [a, b] = [sha256Digest('a'), sha256Digest('b')];
    const dir = await cacheDir(
      new Map([
        [a, [layer(0), layer(1)]],
        [b, [layer(2)]],
      ]),
    );
    const imported = await importCache({ type: 'local', src: dir }, { client: undefined, signal });
    imported.lookup(a)?.source.discard(layer(1).descriptor.digest);
    expect(imported.lookup(a)).toBeUndefined();
    expect(imported.lookup(b)).toBeDefined();
  });

  it('refuses what is not a tbuild cache, and a damaged record blob', async () => {
    const dir = await cacheDir(new Map([[sha256Digest('k'), [layer(1)]]]));
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
      manifests: { digest: Digest }[];
    };
    const manifestPath = join(
      dir,
      'blobs',
      'sha256',
      digestHex(index.manifests[0]?.digest ?? sha256Digest('')),
    );
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
      config: { digest: Digest };
    };
    await writeFile(
      join(dir, 'blobs', 'sha256', digestHex(manifest.config.digest)),
      '{"schema":"other"}',
    );
    const failure = await importCache(
      { type: 'local', src: dir },
      { client: undefined, signal },
    ).catch((error: unknown) => error);
    expect(isTbuildError(failure, 'TB_CACHE_IMPORT')).toBe(true);
    const missing = await importCache(
      { type: 'local', src: join(dir, 'nothing') },
      { client: undefined, signal },
    ).catch((error: unknown) => error);
    expect(isTbuildError(missing, 'TB_CACHE_IMPORT')).toBe(true);
  });
});

describe('the inline cache', () => {
  it('keeps only records that are prefixes of the image, by layer index', () => {
    const image = [layer(0), layer(1), layer(2)];
    const value = inlineCacheValue(
      new Map([
        [sha256Digest('base'), image.slice(0, 1)],
        [sha256Digest('top'), image],
        [sha256Digest('other stage'), [layer(9)]],
      ]),
      image.map((entry) => entry.diffId),
    );
    expect(value.records).toHaveLength(2);
    expect(value.records.find((r) => r.key === sha256Digest('top'))?.layers).toEqual([0, 1, 2]);
    expect(INLINE_CACHE_FIELD).toBe('tbuild.cache.v1');
  });
});
