import { wellFormedText } from '../../core/index.js';

/**
 * A copy of a JSON value (the image config) with every string well formed: bytes of
 * the Dockerfile that are not UTF-8 (core/raw-text.ts) become U+FFFD, as Go's JSON
 * encoder writes BuildKit's config, so other tools read what they would from
 * BuildKit's image (a lone surrogate would be a \udcxx escape they reject or mangle).
 */
export function wellFormedJson<T>(value: T): T {
  return mapStrings(value) as T;
}

function mapStrings(value: unknown): unknown {
  if (typeof value === 'string') return wellFormedText(value);
  if (Array.isArray(value)) return value.map(mapStrings);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [wellFormedText(key), mapStrings(item)]),
    );
  }
  return value;
}
