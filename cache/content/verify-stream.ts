import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { TbuildError, type Digest } from '../../core/index.js';

export function corruptError(digest: Digest, found: string, size: number): TbuildError {
  return new TbuildError(
    'TB_CONTENT_CORRUPT',
    `blob ${digest} is corrupt: its bytes hash to ${found}`,
    {
      hint: 'the blob was removed from the store; run the build again to fetch or rebuild it',
      details: { digest, found, size },
    },
  );
}

/**
 * Passes bytes through while hashing them; at the end, fails with
 * TB_CONTENT_CORRUPT unless they hash to `digest` (and `onCorrupt` runs first,
 * so the store can drop the bad blob). Verification is lazy: a reader pays for
 * it only on the bytes it reads anyway.
 */
export function verifyingStream(digest: Digest, onCorrupt: () => Promise<void>): Transform {
  const hash = createHash('sha256');
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      const found = `sha256:${hash.digest('hex')}`;
      if (found === digest) {
        callback();
        return;
      }
      onCorrupt().then(
        () => {
          callback(corruptError(digest, found, size));
        },
        () => {
          callback(corruptError(digest, found, size));
        },
      );
    },
  });
}
