import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../core/index.js';
import { parseCacheFrom, parseCacheTo } from './cache-options.js';

function usageMessage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isTbuildError(error, 'TB_USAGE')) return `${error.message} | ${error.hint ?? ''}`;
    throw error;
  }
  throw new Error('expected a usage error');
}

describe('--cache-to', () => {
  it('reads a registry export with every option', () => {
    expect(
      parseCacheTo(
        'type=registry,ref=reg:5000/app:cache,mode=max,compression=zstd,compression-level=3,oci-mediatypes=true,image-manifest=false,ignore-error=true,cache-mounts=true',
      ),
    ).toEqual({
      type: 'registry',
      ref: 'reg:5000/app:cache',
      mode: 'max',
      compression: 'zstd',
      compressionLevel: 3,
      ociMediaTypes: true,
      imageManifest: false,
      ignoreError: true,
      cacheMounts: true,
    });
  });

  it('defaults as buildx: min mode, gzip, OCI image manifest, errors fail the build', () => {
    expect(parseCacheTo('type=local,dest=/tmp/c')).toEqual({
      type: 'local',
      dest: '/tmp/c',
      mode: 'min',
      compression: 'gzip',
      ociMediaTypes: true,
      imageManifest: true,
      ignoreError: false,
      cacheMounts: false,
    });
    expect(parseCacheTo('type=inline')).toEqual({ type: 'inline' });
  });

  it('names an unknown key or value and what is accepted', () => {
    expect(usageMessage(() => parseCacheTo('type=registry,ref=a/b,colour=red'))).toMatch(
      /"colour".*accepts type, ref, mode/,
    );
    expect(usageMessage(() => parseCacheTo('type=local,dest=d,mode=most'))).toMatch(
      /mode "most".*min, max/,
    );
    expect(usageMessage(() => parseCacheTo('type=s3,ref=x'))).toMatch(
      /type "s3".*registry, local, inline/,
    );
    expect(usageMessage(() => parseCacheTo('type=inline,mode=max'))).toMatch(/"mode"/);
    expect(usageMessage(() => parseCacheTo('type=registry'))).toMatch(/ref is required/);
    expect(usageMessage(() => parseCacheTo('type=local,dest=d,ignore-error=maybe'))).toMatch(
      /ignore-error "maybe"/,
    );
    expect(usageMessage(() => parseCacheTo('type=local,dest=d,compression-level=10'))).toMatch(
      /0 to 9/,
    );
    expect(
      usageMessage(() => parseCacheTo('type=local,dest=d,compression=zstd,oci-mediatypes=false')),
    ).toMatch(/zstd/);
  });
});

describe('--cache-from', () => {
  it('takes a bare ref as a registry source', () => {
    expect(parseCacheFrom('reg:5000/app:cache')).toEqual({
      type: 'registry',
      ref: 'reg:5000/app:cache',
    });
    expect(parseCacheFrom('type=registry,ref=r/a:b')).toEqual({ type: 'registry', ref: 'r/a:b' });
  });

  it('reads a local source with an optional digest', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(parseCacheFrom(`type=local,src=/c,digest=${digest}`)).toEqual({
      type: 'local',
      src: '/c',
      digest,
    });
    expect(usageMessage(() => parseCacheFrom('type=local,src=/c,digest=abc'))).toMatch(/digest/);
    expect(usageMessage(() => parseCacheFrom('type=local,dest=/c'))).toMatch(
      /"dest".*accepts type, src, digest/,
    );
  });
});
