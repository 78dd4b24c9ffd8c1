import { describe, expect, it } from 'vitest';
import { parseBuildOptions } from '../../builder/index.js';
import { parseCacheDefaults, withCacheDefaults } from './cache-defaults.js';

function options(lists: Record<string, string[]>) {
  return parseBuildOptions(
    { list: (name) => lists[name] ?? [], string: () => undefined, boolean: () => undefined },
    {},
  );
}

describe('the service’s cache defaults', () => {
  const defaults = parseCacheDefaults(
    ['type=registry,ref=127.0.0.1:5000/cache/app'],
    ['type=registry,ref=127.0.0.1:5000/cache/app,mode=max'],
    'service.json',
  );

  it('are read as the CLI reads --cache-from and --cache-to', () => {
    expect(defaults.cacheFrom).toEqual([{ type: 'registry', ref: '127.0.0.1:5000/cache/app' }]);
    expect(defaults.cacheTo?.[0]).toMatchObject({ type: 'registry', mode: 'max' });
    expect(() => parseCacheDefaults(['type=s3'], [], 'service.json')).toThrow(
      /service.json: "cacheFrom" or "cacheTo"/,
    );
  });

  it('apply to a build without its own, and come after a build’s own imports', () => {
    const plain = withCacheDefaults(options({}), defaults);
    expect(plain.cacheFrom).toEqual(defaults.cacheFrom);
    expect(plain.cacheTo).toEqual(defaults.cacheTo);
    const own = withCacheDefaults(
      options({ 'cache-from': ['type=local,src=/c'], 'cache-to': ['type=inline'] }),
      defaults,
    );
    expect(own.cacheFrom?.map((spec) => spec.type)).toEqual(['local', 'registry']);
    expect(own.cacheTo).toEqual([{ type: 'inline' }]);
  });
});
