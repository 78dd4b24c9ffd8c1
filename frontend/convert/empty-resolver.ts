import { throwIfAborted } from '../../core/index.js';
import type { ImageMetaResolver } from './types.js';

/**
 * A resolver that knows no images: every reference resolves to itself with
 * no config. Used by `tbuild graph` until an image store is plugged in.
 */
export const emptyImageResolver: ImageMetaResolver = {
  resolve(ref, { signal }) {
    throwIfAborted(signal);
    return Promise.resolve({ ref });
  },
};
