import { describe, expect, it } from 'vitest';
import { canonicalDigest, canonicalJson } from './canonical-json.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('gives equal digests for equal values built in different orders', () => {
    expect(canonicalDigest({ x: 1, y: 'two' })).toBe(canonicalDigest({ y: 'two', x: 1 }));
    expect(canonicalDigest({ x: 1 })).not.toBe(canonicalDigest({ x: 2 }));
  });

  it('escapes strings as JSON does', () => {
    expect(canonicalJson({ 'k"': 'line\nbreak\u0000' })).toBe('{"k\\"":"line\\nbreak\\u0000"}');
  });

  it.each([
    [Number.NaN, 'non-finite'],
    [{ a: () => 1 }, 'function'],
    [{ a: new Map() }, 'not a plain object'],
    [[1n], 'bigint'],
  ])('refuses %s', (value, why) => {
    expect(() => canonicalJson(value)).toThrow(why);
  });
});
