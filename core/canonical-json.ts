import { TbuildError } from './errors.js';
import { sha256Digest, type Digest } from './digest.js';

/**
 * Deterministic JSON: object keys sorted by UTF-16 code unit, no whitespace,
 * `undefined` properties omitted (so "absent" and "undefined" hash the same).
 * Anything JSON cannot represent faithfully is refused rather than coerced,
 * because a silently changed value would change a cache key or digest.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, '$');
}

/** sha256 of the canonical JSON of a value: the identity of IR ops and cache keys. */
export function canonicalDigest(value: unknown): Digest {
  return sha256Digest(canonicalJson(value));
}

function encode(value: unknown, path: string): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw refuse(path, `non-finite number ${String(value)}`);
      return JSON.stringify(value);
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        return `[${value.map((item: unknown, index) => encode(item, `${path}[${String(index)}]`)).join(',')}]`;
      }
      return encodeObject(value, path);
    default:
      throw refuse(path, `a value of type ${typeof value}`);
  }
}

function encodeObject(value: object, path: string): string {
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw refuse(path, 'an object that is not a plain object');
  }
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${encode(record[key], `${path}.${key}`)}`);
  return `{${members.join(',')}}`;
}

function refuse(path: string, what: string): TbuildError {
  return new TbuildError(
    'TB_CANONICAL_JSON',
    `cannot encode ${what} at ${path} as canonical JSON`,
    {
      details: { path },
    },
  );
}
