import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../core/index.js';
import type { ImageIndex, Platform } from './manifest-types.js';
import { normalisePlatform, parsePlatform, selectPlatform } from './platform.js';

function index(platforms: Platform[]): ImageIndex {
  return {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: platforms.map((platform, i) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: sha256Digest(String(i)),
      size: i,
      platform,
    })),
  };
}

describe('platforms', () => {
  it('normalises architecture names and variants', () => {
    expect(normalisePlatform({ os: 'Linux', architecture: 'x86_64' })).toEqual({
      os: 'linux',
      architecture: 'amd64',
    });
    expect(normalisePlatform({ os: 'linux', architecture: 'aarch64', variant: 'v8' })).toEqual({
      os: 'linux',
      architecture: 'arm64',
    });
    expect(normalisePlatform({ os: 'linux', architecture: 'arm' })).toEqual({
      os: 'linux',
      architecture: 'arm',
      variant: 'v7',
    });
    expect(normalisePlatform({ os: 'linux', architecture: 'armhf' })).toEqual({
      os: 'linux',
      architecture: 'arm',
      variant: 'v7',
    });
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(() => parsePlatform('linux')).toThrow(/invalid platform/);
  });

  it('chooses the exact match, then compatible variants, skipping attestations', () => {
    const idx = index([
      { os: 'unknown', architecture: 'unknown' },
      { os: 'linux', architecture: 'arm', variant: 'v6' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ]);
    expect(selectPlatform(idx, { os: 'linux', architecture: 'amd64' }, 'x').size).toBe(3);
    expect(selectPlatform(idx, { os: 'linux', architecture: 'arm64' }, 'x').size).toBe(2);
    expect(selectPlatform(idx, { os: 'linux', architecture: 'arm', variant: 'v7' }, 'x').size).toBe(
      4,
    );
    expect(selectPlatform(idx, { os: 'linux', architecture: 'arm', variant: 'v8' }, 'x').size).toBe(
      4,
    );
    expect(
      selectPlatform(
        index([{ os: 'linux', architecture: 'arm', variant: 'v5' }]),
        { os: 'linux', architecture: 'arm' },
        'x',
      ).size,
    ).toBe(0);
    expect(
      selectPlatform(
        index([{ os: 'linux', architecture: 'amd64' }]),
        { os: 'linux', architecture: 'amd64', variant: 'v3' },
        'x',
      ).size,
    ).toBe(0);
    expect(() => selectPlatform(idx, { os: 'linux', architecture: 'riscv64' }, 'img')).toThrow(
      /img has no manifest for linux\/riscv64/,
    );
  });
});
