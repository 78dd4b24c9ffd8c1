import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { type Digest, sha256Digest } from '../../../core/index.js';
import {
  MEDIA_TYPES,
  type LayerSource,
  type PushImageInput,
} from '../../../registry-client/index.js';

/** A small random image in memory: gzip layers of random bytes and a config naming their diff_ids. */
export interface TestImage {
  readonly input: PushImageInput;
  readonly blobs: ReadonlyMap<Digest, Buffer>;
}

export function randomImage(layerSizes: readonly number[], ociMediaTypes = false): TestImage {
  const blobs = new Map<Digest, Buffer>();
  const diffIds: Digest[] = [];
  const layers: LayerSource[] = layerSizes.map((size) => {
    const raw = randomBytes(size);
    diffIds.push(sha256Digest(raw));
    const data = gzipSync(raw, { level: 1 });
    const digest = sha256Digest(data);
    blobs.set(digest, data);
    return { digest, size: data.length, mediaType: MEDIA_TYPES.dockerLayerGzip, open: () => data };
  });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created_by: 'test' })),
    }),
  );
  const configDigest = sha256Digest(config);
  blobs.set(configDigest, config);
  return {
    input: {
      config: { digest: configDigest, size: config.length, open: () => config },
      layers,
      ociMediaTypes,
    },
    blobs,
  };
}
