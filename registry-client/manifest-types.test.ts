import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../core/index.js';
import { apiHost, isLoopbackHost } from './client.js';
import { buildImageManifest, convertLayerMediaType } from './image-push.js';
import { parseManifest } from './manifest-types.js';
import { MEDIA_TYPES } from './media-types.js';

const d = sha256Digest('x');

describe('parseManifest', () => {
  it('takes the type from Content-Type (parameters stripped), else from the body', () => {
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        config: { mediaType: 'c', digest: d, size: 1 },
        layers: [],
      }),
    );
    const parsed = parseManifest(body, `${MEDIA_TYPES.dockerManifest}; charset=utf-8`, 'm');
    expect(parsed.kind === 'manifest' && parsed.manifest.mediaType).toBe(
      MEDIA_TYPES.dockerManifest,
    );
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'm', digest: d, size: 3 }] }),
    );
    expect(parseManifest(index, 'application/json', 'i').kind).toBe('index');
  });

  it('refuses schema1, bad JSON, bad descriptors and unknown types', () => {
    expect(() => parseManifest(Buffer.from('{"schemaVersion":1}'), undefined, 'old')).toThrow(
      /schema1/,
    );
    expect(() => parseManifest(Buffer.from('{'), undefined, 'm')).toThrow(/not valid JSON/);
    const badDigest = JSON.stringify({
      schemaVersion: 2,
      config: { mediaType: 'c', digest: 'sha256:zz', size: 1 },
    });
    expect(() => parseManifest(Buffer.from(badDigest), MEDIA_TYPES.ociManifest, 'm')).toThrow(
      /invalid digest/,
    );
    expect(() =>
      parseManifest(Buffer.from('{"schemaVersion":2}'), 'application/vnd.x', 'm'),
    ).toThrow(/unsupported/);
  });
});

describe('image manifests for push', () => {
  it('uses one family of media types and is hashed as serialised', () => {
    const blob = { digest: d, size: 1, open: () => Buffer.from('x') };
    const layers = [{ ...blob, mediaType: MEDIA_TYPES.ociLayerGzip }];
    const docker = buildImageManifest({ config: blob, layers, ociMediaTypes: false });
    const parsed = JSON.parse(docker.bytes.toString()) as {
      config: { mediaType: string };
      layers: { mediaType: string }[];
    };
    expect(parsed.config.mediaType).toBe(MEDIA_TYPES.dockerConfig);
    expect(parsed.layers[0]?.mediaType).toBe(MEDIA_TYPES.dockerLayerGzip);
    expect(docker.digest).toBe(sha256Digest(docker.bytes));
    expect(buildImageManifest({ config: blob, layers, ociMediaTypes: true }).mediaType).toBe(
      MEDIA_TYPES.ociManifest,
    );
    expect(convertLayerMediaType(MEDIA_TYPES.ociLayerZstd, false)).toBe(MEDIA_TYPES.ociLayerZstd);
  });
});

describe('hosts', () => {
  it('maps Docker Hub to its API host and knows loopback registries', () => {
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('ghcr.io')).toBe('ghcr.io');
    for (const host of [
      'localhost',
      'localhost:5000',
      'reg.localhost:1',
      '127.0.0.1:5000',
      '127.1.2.3',
      '[::1]:5000',
    ]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ['10.0.0.1:5000', 'docker.io', '[::2]:5000', 'localhost.example.com']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});
