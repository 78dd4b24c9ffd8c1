import { execFile } from 'node:child_process';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  missingRequirements,
  requires,
  startRegistry,
  type TestRegistry,
} from '../../harness/index.js';
import {
  MEDIA_TYPES,
  RegistryClient,
  copyImage,
  fetchBlob,
  getManifest,
  parseReference,
  pushImage,
  pushIndex,
  resolveImage,
} from '../../../registry-client/index.js';
import { randomImage } from './image-fixture.js';

const run = promisify(execFile);
const signal = new AbortController().signal;
const canRun = missingRequirements(['docker-registry']).length === 0;

describe('registry-client against docker-registry 2.8', () => {
  let first: TestRegistry | undefined;
  let second: TestRegistry | undefined;
  let client: RegistryClient;

  beforeAll(async () => {
    client = new RegistryClient();
    if (!canRun) return;
    [first, second] = await Promise.all([startRegistry(), startRegistry({ relativeUrls: true })]);
  });
  afterAll(async () => {
    client.close();
    await Promise.all([first?.stop(), second?.stop()]);
  });

  it('pushes blobs, config and manifest, then pulls them back verified', async (ctx) => {
    requires(ctx, 'docker-registry');
    const registry = first as TestRegistry;
    const image = randomImage([300_000, 50_000, 0]);
    const ref = parseReference(`${registry.host}/tbuild/roundtrip:v1`);
    const progress = new Map<string, number>();
    const pushed = await pushImage(client, ref, image.input, ['v1'], {
      signal,
      onProgress: (digest, sent) => progress.set(digest, sent),
    });
    expect([...pushed.blobs.values()].every((r) => r === 'uploaded')).toBe(true);
    for (const layer of image.input.layers) expect(progress.get(layer.digest)).toBe(layer.size);

    const resolved = await resolveImage(client, ref, { signal });
    expect(resolved.manifest.digest).toBe(pushed.digest);
    expect(resolved.manifest.mediaType).toBe(MEDIA_TYPES.dockerManifest);
    expect(resolved.manifest.image.layers.map((l) => l.digest)).toEqual(
      image.input.layers.map((l) => l.digest),
    );
    for (const layer of resolved.manifest.image.layers) {
      const bytes = await buffer(fetchBlob(client, ref, layer, { signal }));
      expect(bytes.equals(image.blobs.get(layer.digest) ?? Buffer.alloc(1))).toBe(true);
    }

    // A second push finds everything in place.
    const again = await pushImage(client, ref, image.input, ['v1'], { signal });
    expect([...again.blobs.values()]).toEqual(['exists', 'exists', 'exists', 'exists']);
  });

  it('pushes OCI media types and an index, and chooses linux/amd64 from it', async (ctx) => {
    requires(ctx, 'docker-registry');
    const registry = first as TestRegistry;
    const ref = parseReference(`${registry.host}/tbuild/multi:latest`);
    const amd64 = await pushImage(client, ref, randomImage([1000], true).input, [], { signal });
    const arm64 = await pushImage(client, ref, randomImage([2000], true).input, [], { signal });
    expect(amd64.mediaType).toBe(MEDIA_TYPES.ociManifest);
    const index = await pushIndex(
      client,
      ref,
      [
        { ...arm64, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { ...amd64, platform: { os: 'linux', architecture: 'amd64' } },
      ],
      ['latest'],
      { signal, ociMediaTypes: true },
    );
    const top = await getManifest(client, ref, signal);
    expect(top.digest).toBe(index.digest);
    expect(top.parsed.kind).toBe('index');
    expect((await resolveImage(client, ref, { signal })).manifest.digest).toBe(amd64.digest);
    const arm = await resolveImage(client, ref, {
      signal,
      platform: { os: 'linux', architecture: 'aarch64' },
    });
    expect(arm.manifest.digest).toBe(arm64.digest);
    await expect(
      resolveImage(client, ref, { signal, platform: { os: 'linux', architecture: 's390x' } }),
    ).rejects.toMatchObject({ code: 'TB_REGISTRY_MANIFEST' });
  });

  it('copies an image to another registry (relative Locations) and mounts within one', async (ctx) => {
    requires(ctx, 'docker-registry');
    const source = parseReference(`${(first as TestRegistry).host}/tbuild/source:v1`);
    const pushed = await pushImage(client, source, randomImage([100_000, 20_000]).input, ['v1'], {
      signal,
    });

    const elsewhere = parseReference(`${(second as TestRegistry).host}/copied/image:v2`);
    const copied = await copyImage(client, source, elsewhere, { signal });
    expect(copied.digest).toBe(pushed.digest);
    expect((await getManifest(client, elsewhere, signal)).digest).toBe(pushed.digest);

    const sibling = parseReference(`${(first as TestRegistry).host}/tbuild/sibling:v1`);
    const mounted = await copyImage(client, source, sibling, { signal });
    expect(mounted.digest).toBe(pushed.digest);
    expect([...mounted.blobs.values()]).toEqual(['mounted', 'mounted', 'mounted']);
  });

  it('an image it pushed is read back by skopeo with the same digest', async (ctx) => {
    requires(ctx, 'docker-registry', 'skopeo');
    const ref = parseReference(`${(first as TestRegistry).host}/tbuild/skopeo:v1`);
    for (const oci of [false, true]) {
      const pushed = await pushImage(client, ref, randomImage([4096, 8192], oci).input, ['v1'], {
        signal,
      });
      const { stdout } = await run('skopeo', [
        'inspect',
        '--tls-verify=false',
        `docker://${ref.registry}/${ref.repository}:v1`,
      ]);
      const inspected = JSON.parse(stdout) as { Digest: string; Layers: string[] };
      expect(inspected.Digest).toBe(pushed.digest);
      const { stdout: raw } = await run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${ref.registry}/${ref.repository}:v1`,
      ]);
      expect(Buffer.from(raw).equals(pushed.bytes)).toBe(true);
    }
  });
});
