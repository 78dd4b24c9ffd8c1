import type { Logger } from '../../core/index.js';
import { createVertex } from '../../solver/index.js';
import type { Engine } from './engine.js';

/**
 * Extracts a stored image's layers into snapshots now, as `docker load` and
 * `docker pull` unpack into the image store, so the first build FROM it does
 * not pay for it. It is the FROM step itself (the image source op), solved on
 * its own: the same layer records, and nothing runs twice.
 */
export async function unpackImage(
  engine: Engine,
  ref: string,
  options: { readonly signal: AbortSignal; readonly logger?: Logger },
): Promise<void> {
  const from = createVertex(
    {
      kind: 'source',
      source: { type: 'image', ref, platform: { os: 'linux', architecture: 'amd64' } },
    },
    [],
    { name: `unpack ${ref}` },
  );
  await engine.solver.solve(from, {
    signal: options.signal,
    progress: () => undefined,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
}
