import { createHash } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../../../core/index.js';
import type { InputKeySpec, Vertex } from '../../../solver/index.js';
import { checksumPath, cleanRelative } from '../../contenthash/index.js';
import { expandWildcard, hasWildcard, pathFilter } from '../../fileop/index.js';
import type { WorkerRef } from '../refs.js';
import type { OpContext } from './context.js';

/** Whether an input is the client's directory, whose cache identity is the content an op reads. */
export function isLocalInput(input: Vertex | undefined): boolean {
  return input?.op.kind === 'source' && input.op.source.type === 'local';
}

/**
 * A content-checksum key spec over `paths` (possibly wildcards) of a local
 * input: the digest of the matched paths' names and checksums. Excluded paths
 * (.dockerignore) are not read and not part of it.
 */
export function contentKey(paths: readonly string[], context: OpContext): InputKeySpec<WorkerRef> {
  return {
    contentChecksum: async (input, job) => {
      if (input.kind !== 'local') return keyOfUnexpected(input);
      const filter = pathFilter(input.excludePatterns, context.excluder(input.excludePatterns));
      const hash = createHash('sha256');
      for (const pattern of paths) {
        const cleaned = cleanRelative(pattern.replace('/./', '/'));
        const matches = hasWildcard(cleaned) ? await expandWildcard(input.dir, cleaned) : [cleaned];
        hash.update(`${pattern}\0`);
        for (const match of matches) {
          const stats = await lstat(join(input.dir, match)).catch(() => undefined);
          // An excluded directory still counts for what an exception keeps in it (PathFilter).
          if (
            match !== '' &&
            filter.excludes(match) &&
            !(stats?.isDirectory() === true && filter.mayKeepInside(match))
          )
            continue;
          if (stats === undefined) {
            hash.update(`${match}\0missing\n`);
            continue;
          }
          const digest = await checksumPath(match, {
            root: input.dir,
            statCache: context.statCache,
            pool: context.pool,
            includeOwnership: false,
            excludes: filter.excludes,
            mayKeepInside: (dir) => filter.mayKeepInside(dir),
            excludesKey: JSON.stringify(input.excludePatterns),
            onListed: (path, listing) => {
              context.listings.keep(path, listing);
            },
            signal: job.signal,
          });
          hash.update(`${match}\0${digest}\n`);
        }
      }
      return `sha256:${hash.digest('hex')}` as Digest;
    },
  };
}

function keyOfUnexpected(input: WorkerRef): Promise<Digest> {
  const text = JSON.stringify(input);
  return Promise.resolve(`sha256:${createHash('sha256').update(text).digest('hex')}` as Digest);
}
