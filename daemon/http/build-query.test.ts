import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import type { ServiceConfig } from '../config.js';
import { parseBuildQuery } from './build-query.js';

/** Only what parseBuildQuery reads of the service's config. */
const CONFIG = { entitlements: [], secrets: new Map() } as unknown as ServiceConfig;

describe('parseBuildQuery', () => {
  it('takes shm-size, ulimit and annotation as the CLI takes the flags', () => {
    const { options } = parseBuildQuery(
      {
        'shm-size': '128m',
        ulimit: ['nofile=1024:2048', 'core=-1'],
        annotation: ['org.example.a=1', 'manifest-descriptor:org.example.d=2'],
      },
      CONFIG,
    );
    expect(options.shmSize).toBe(128 * 1024 * 1024);
    expect(options.ulimits).toEqual([
      { name: 'core', soft: -1, hard: -1 },
      { name: 'nofile', soft: 1024, hard: 2048 },
    ]);
    expect(options.annotations).toEqual({
      manifest: { 'org.example.a': '1' },
      manifestDescriptor: { 'org.example.d': '2' },
    });
  });

  it('gives the same errors as the flags for bad values', () => {
    for (const query of [
      { 'shm-size': 'lots' },
      { ulimit: 'files=1' },
      { annotation: 'index:org.example.a=1' },
    ]) {
      let error: unknown;
      try {
        parseBuildQuery(query, CONFIG);
      } catch (caught) {
        error = caught;
      }
      expect(isTbuildError(error, 'TB_USAGE'), JSON.stringify(query)).toBe(true);
    }
  });

  it('takes cache-to and cache-from as the repeatable flags, and refuses a local cache', () => {
    const { options } = parseBuildQuery(
      {
        'cache-to': 'type=registry,ref=registry.example/app:cache,mode=max',
        'cache-from': ['registry.example/app:cache', 'type=registry,ref=registry.example/base:c'],
      },
      CONFIG,
    );
    expect(options.cacheTo).toEqual([
      expect.objectContaining({ type: 'registry', ref: 'registry.example/app:cache', mode: 'max' }),
    ]);
    expect(options.cacheFrom).toEqual([
      { type: 'registry', ref: 'registry.example/app:cache' },
      { type: 'registry', ref: 'registry.example/base:c' },
    ]);
    expect(parseBuildQuery({}, CONFIG).options.cacheTo).toBeUndefined();
    for (const query of [
      { 'cache-to': 'type=local,dest=/etc/cache' },
      { 'cache-from': 'type=local,src=/root' },
    ]) {
      expect(() => parseBuildQuery(query, CONFIG), JSON.stringify(query)).toThrow(
        /type=local names a directory of the service's own filesystem/,
      );
    }
    let error: unknown;
    try {
      parseBuildQuery({ 'cache-to': 'type=registry,ref=r.example/a,mode=most' }, CONFIG);
    } catch (caught) {
      error = caught;
    }
    expect(isTbuildError(error, 'TB_USAGE')).toBe(true);
  });
});
