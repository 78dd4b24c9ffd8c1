import type { Digest } from '../../core/index.js';
import type { FallbackCache } from '../../solver/index.js';
import { SCRATCH, type WorkerRef } from '../engine/index.js';
import type { ImportedCache } from './import.js';

/**
 * The solver's look-up after a local miss: the first imported cache holding
 * the key (in `--cache-from` order). A hit is a lazy result: nothing is
 * fetched until a step or an output needs its files.
 */
export function importedCacheLookup(imports: readonly ImportedCache[]): FallbackCache<WorkerRef> {
  return {
    load(key: Digest) {
      for (const imported of imports) {
        const found = imported.lookup(key);
        if (found === undefined) continue;
        const result = found.layers.length === 0 ? SCRATCH : found;
        return Promise.resolve({ result, from: imported.name });
      }
      return Promise.resolve(undefined);
    },
  };
}
