import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../../../core/index.js';
import {
  missingRequirements,
  requires,
  startFaultProxy,
  startRegistry,
  type FaultProxy,
  type FaultRule,
  type TestRegistry,
} from '../../harness/index.js';
import {
  RegistryClient,
  fetchBlob,
  fetchBlobBytes,
  getManifest,
  parseReference,
  pushImage,
  resolveImage,
  type ImageReference,
  type PushedImage,
} from '../../../registry-client/index.js';
import { randomImage, type TestImage } from './image-fixture.js';

const signal = new AbortController().signal;
const canRun = missingRequirements(['docker-registry']).length === 0;
const BLOB_GET = /\/blobs\/sha256:/;
const MANIFEST = /\/manifests\//;

describe('registry-client through a fault-injecting proxy', () => {
  let registry: TestRegistry | undefined;
  let proxy: FaultProxy | undefined;
  let client: RegistryClient;
  let image: TestImage;
  let pushed: PushedImage;
  let viaProxy: ImageReference;
  let direct: ImageReference;

  beforeAll(async () => {
    client = new RegistryClient({ retry: { attempts: 5, baseDelayMs: 20, maxDelayMs: 2000 } });
    if (!canRun) return;
    registry = await startRegistry();
    proxy = await startFaultProxy(registry);
    image = randomImage([2_000_000, 300_000]);
    direct = parseReference(`${registry.host}/faults/image:v1`);
    viaProxy = parseReference(`${proxy.host}/faults/image:v1`);
    pushed = await pushImage(client, direct, image.input, ['v1'], { signal });
  });
  afterAll(async () => {
    client.close();
    await Promise.all([registry?.stop(), proxy?.stop()]);
  });

  function faults(rules: FaultRule[]): FaultProxy {
    const via = proxy as FaultProxy;
    via.setRules(rules);
    via.requests.length = 0;
    return via;
  }

  async function pullAll(): Promise<void> {
    const resolved = await resolveImage(client, viaProxy, { signal });
    expect(resolved.manifest.digest).toBe(pushed.digest);
    for (const layer of resolved.manifest.image.layers) {
      const bytes = await buffer(fetchBlob(client, viaProxy, layer, { signal }));
      expect(sha256Digest(bytes)).toBe(layer.digest);
      expect(bytes.equals(image.blobs.get(layer.digest) ?? Buffer.alloc(0))).toBe(true);
    }
  }

  it('pulls through 429 (Retry-After), 500 and connection resets', async (ctx) => {
    requires(ctx, 'docker-registry');
    const via = faults([
      {
        method: 'GET',
        path: MANIFEST,
        fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } },
      },
      { method: 'GET', path: MANIFEST, fault: { kind: 'status', status: 500 } },
      { method: 'GET', path: BLOB_GET, fault: { kind: 'reset' }, times: 2 },
      { method: 'GET', path: BLOB_GET, fault: { kind: 'status', status: 503 } },
    ]);
    const started = Date.now();
    await pullAll();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // Retry-After: 1 was honoured
    expect(via.requests.filter((r) => r.fault !== undefined).map((r) => r.fault)).toEqual([
      'status',
      'status',
      'reset',
      'reset',
      'status',
    ]);
  });

  it('retries a busy ping instead of giving up on the registry', async (ctx) => {
    requires(ctx, 'docker-registry');
    const via = faults([
      { method: 'GET', path: /^\/v2\/$/, fault: { kind: 'status', status: 503 } },
      {
        method: 'GET',
        path: /^\/v2\/$/,
        fault: { kind: 'status', status: 429, headers: { 'retry-after': '0' } },
      },
    ]);
    const fresh = new RegistryClient({ retry: { attempts: 4, baseDelayMs: 10 } });
    try {
      expect((await getManifest(fresh, viaProxy, signal)).digest).toBe(pushed.digest);
    } finally {
      fresh.close();
    }
    expect(via.requests.filter((r) => r.path === '/v2/').map((r) => r.status)).toEqual([
      503, 429, 200,
    ]);
  });

  it('resumes a truncated blob with a Range request and survives slow bodies', async (ctx) => {
    requires(ctx, 'docker-registry');
    const via = faults([
      { method: 'GET', path: BLOB_GET, fault: { kind: 'truncate', afterBytes: 700_000 } },
      { method: 'GET', path: BLOB_GET, fault: { kind: 'slow', chunkDelayMs: 5 }, times: 3 },
    ]);
    await pullAll();
    const ranged = via.requests.filter((r) => r.headers.range !== undefined);
    expect(ranged.length).toBe(1);
    expect(ranged[0]?.status).toBe(206);
    expect(Number(/bytes=(\d+)-/.exec(ranged[0]?.headers.range ?? '')?.[1])).toBeGreaterThan(0);
  });

  it('never returns corrupted data: a stream fails, an in-memory fetch retries', async (ctx) => {
    requires(ctx, 'docker-registry');
    const layer = image.input.layers[0];
    if (layer === undefined) throw new Error('no layer');
    faults([{ method: 'GET', path: BLOB_GET, fault: { kind: 'corrupt' }, times: Infinity }]);
    const stream = fetchBlob(client, viaProxy, layer, { signal });
    let ended = false;
    stream.on('end', () => (ended = true));
    await expect(buffer(stream)).rejects.toMatchObject({ code: 'TB_REGISTRY_DIGEST_MISMATCH' });
    expect(ended).toBe(false);

    faults([{ method: 'GET', path: BLOB_GET, fault: { kind: 'corrupt' }, times: 1 }]);
    const bytes = await fetchBlobBytes(client, viaProxy, layer, { signal });
    expect(sha256Digest(bytes)).toBe(layer.digest);

    faults([{ method: 'GET', path: MANIFEST, fault: { kind: 'corrupt' }, times: 1 }]);
    expect((await getManifest(client, viaProxy, signal)).digest).toBe(pushed.digest);
    faults([{ method: 'GET', path: MANIFEST, fault: { kind: 'corrupt' }, times: Infinity }]);
    const error = await getManifest(client, viaProxy, signal).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TB_REGISTRY_DIGEST_MISMATCH' });
  });

  it('pushes through 500, resets and 429, and the stored image is intact', async (ctx) => {
    requires(ctx, 'docker-registry');
    const via = faults([
      { method: 'POST', path: /\/blobs\/uploads\/$/, fault: { kind: 'status', status: 500 } },
      { method: 'PUT', path: /\/blobs\/uploads\//, fault: { kind: 'reset' } },
      { method: 'HEAD', path: BLOB_GET, fault: { kind: 'status', status: 502 } },
      {
        method: 'PUT',
        path: MANIFEST,
        fault: { kind: 'status', status: 429, headers: { 'retry-after': '0' } },
      },
    ]);
    const fresh = randomImage([400_000, 1000]);
    const target = parseReference(`${via.host}/faults/pushed:v1`);
    const result = await pushImage(client, target, fresh.input, ['v1'], { signal });
    expect(via.requests.filter((r) => r.fault !== undefined).length).toBe(4);
    const stored = await resolveImage(
      client,
      parseReference(`${(registry as TestRegistry).host}/faults/pushed:v1`),
      { signal },
    );
    expect(stored.manifest.digest).toBe(result.digest);
    for (const layer of stored.manifest.image.layers) {
      const bytes = await fetchBlobBytes(client, stored.reference, layer, { signal });
      expect(bytes.equals(fresh.blobs.get(layer.digest) ?? Buffer.alloc(0))).toBe(true);
    }
  });

  it('cancels a slow download when its signal aborts', async (ctx) => {
    requires(ctx, 'docker-registry');
    const layer = image.input.layers[0];
    if (layer === undefined) throw new Error('no layer');
    faults([
      { method: 'GET', path: BLOB_GET, fault: { kind: 'slow', chunkDelayMs: 50 }, times: Infinity },
    ]);
    const controller = new AbortController();
    let received = 0;
    const stream = fetchBlob(client, viaProxy, layer, {
      signal: controller.signal,
      onProgress: (bytes) => {
        received = bytes;
        if (bytes > 100_000) controller.abort();
      },
    });
    await expect(buffer(stream)).rejects.toMatchObject({ code: 'TB_CANCELED' });
    expect(received).toBeLessThan(layer.size);
  });

  it('gives up on a registry that keeps failing, with a clear error', async (ctx) => {
    requires(ctx, 'docker-registry');
    faults([{ path: MANIFEST, fault: { kind: 'status', status: 503 }, times: Infinity }]);
    const error = await getManifest(client, viaProxy, signal).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TB_REGISTRY_HTTP' });
    expect((error as Error).message).toMatch(/503.*gave up after 5 attempts/);
  });

  it('a cross-repository mount is answered 201 with the blob Location and digest', async (ctx) => {
    requires(ctx, 'docker-registry');
    const via = faults([]);
    const layers = randomImage([1234]);
    await pushImage(client, parseReference(`${via.host}/mount/source:v1`), layers.input, ['v1'], {
      signal,
    });
    via.requests.length = 0;
    const result = await pushImage(
      client,
      parseReference(`${via.host}/mount/target:v1`),
      layers.input,
      ['v1'],
      {
        signal,
        mountFrom: ['mount/source'],
      },
    );
    const mounts = via.requests.filter((r) => r.method === 'POST' && r.path.includes('mount='));
    expect(mounts.length).toBe(2);
    for (const mount of mounts) {
      const digest = new URLSearchParams(mount.path.split('?')[1]).get('mount');
      expect(mount.status).toBe(201);
      expect(mount.responseHeaders?.['docker-content-digest']).toBe(digest);
      expect(mount.responseHeaders?.location).toMatch(
        new RegExp(`/v2/mount/target/blobs/${String(digest)}$`),
      );
    }
    expect(via.requests.some((r) => r.method === 'PUT' && r.path.includes('/blobs/uploads/'))).toBe(
      false,
    );
    expect([...result.blobs.values()]).toEqual(['mounted', 'mounted']);
  });
});
