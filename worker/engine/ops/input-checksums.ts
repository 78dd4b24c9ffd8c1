import { createHash } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../../../core/index.js';
import type { ScannedDirectory } from '../../../runtime/index.js';
import type { FileDigests, InputKeySpec, JobContext, Vertex } from '../../../solver/index.js';
import {
  checksumChildren,
  checksumPath,
  cleanRelative,
  type ChecksumOptions,
} from '../../contenthash/index.js';
import { expandWildcard, hasWildcard, pathFilter } from '../../fileop/index.js';
import type { WorkerRef } from '../refs.js';
import type { OpContext } from './context.js';

/**
 * How many paths the listing kept to explain a miss (InputKeySpec.files) may
 * hold: a directory whose children would not fit stays one entry.
 */
const FILES_LIMIT = 512;

/** Whether an input is the client's directory, whose cache identity is the content an op reads. */
export function isLocalInput(input: Vertex | undefined): boolean {
  return input?.op.kind === 'source' && input.op.source.type === 'local';
}

type LocalRef = WorkerRef & { kind: 'local' };

/** One path an op reads: missing, or its checksum and whether it is a directory. */
type ReadPath =
  | { readonly path: string; readonly missing: true }
  | {
      readonly path: string;
      readonly missing: false;
      readonly digest: Digest;
      readonly dir: boolean;
    };

/**
 * A content-checksum key spec over `paths` (possibly wildcards) of a local
 * input: the digest of the matched paths' names and checksums. Excluded paths
 * (.dockerignore) are not read and not part of it. `files` lists the same
 * paths' checksums, and below them, breadth first, those of up to FILES_LIMIT
 * entries, so a miss can name the files that changed.
 */
export function contentKey(paths: readonly string[], context: OpContext): InputKeySpec<WorkerRef> {
  return {
    contentChecksum: async (input, job) => {
      if (input.kind !== 'local') return keyOfUnexpected(input);
      const hash = createHash('sha256');
      const options = checksumOptions(input, context, job, true);
      for (const pattern of paths) {
        hash.update(`${pattern}\0`);
        for (const read of await readPaths(pattern, input, options)) {
          hash.update(read.missing ? `${read.path}\0missing\n` : `${read.path}\0${read.digest}\n`);
        }
      }
      return `sha256:${hash.digest('hex')}` as Digest;
    },
    files: async (input, job) => {
      if (input.kind !== 'local') return { digests: {}, listed: [] };
      const digests: Record<string, string> = {};
      const listed: string[] = [];
      const queue: string[] = [];
      // The listings are not kept for the copy: it has taken them already.
      const options = checksumOptions(input, context, job, false);
      for (const pattern of paths) {
        for (const read of await readPaths(pattern, input, options)) {
          digests[read.path] = read.missing ? 'missing' : read.digest;
          if (!read.missing && read.dir) queue.push(read.path);
        }
      }
      let count = Object.keys(digests).length;
      for (let dir = queue.shift(); dir !== undefined; dir = queue.shift()) {
        const children = await checksumChildren(dir, options);
        if (children === undefined || count + children.length > FILES_LIMIT) continue;
        listed.push(dir);
        count += children.length;
        for (const child of children) {
          const path = dir === '' ? child.name : `${dir}/${child.name}`;
          digests[path] = child.digest;
          if (child.dir) queue.push(path);
        }
      }
      return { digests, listed } satisfies FileDigests;
    },
  };
}

/** The paths one pattern names in the context, with their checksums. */
async function readPaths(
  pattern: string,
  input: LocalRef,
  options: ChecksumOptions,
): Promise<ReadPath[]> {
  const excludes = options.excludes ?? (() => false);
  const cleaned = cleanRelative(pattern.replace('/./', '/'));
  const matches = hasWildcard(cleaned) ? await expandWildcard(input.dir, cleaned) : [cleaned];
  const found: ReadPath[] = [];
  for (const match of matches) {
    const stats = await lstat(join(input.dir, match)).catch(() => undefined);
    // An excluded directory still counts for what an exception keeps in it (PathFilter).
    if (
      match !== '' &&
      excludes(match) &&
      !(stats?.isDirectory() === true && options.mayKeepInside?.(match) === true)
    )
      continue;
    if (stats === undefined) {
      found.push({ path: match, missing: true });
      continue;
    }
    const digest = await checksumPath(match, options);
    found.push({ path: match, missing: false, digest, dir: stats.isDirectory() });
  }
  return found;
}

/** The walk over a context for a key; `keepListings` keeps its listings for the copy that follows. */
function checksumOptions(
  input: LocalRef,
  context: OpContext,
  job: JobContext,
  keepListings: boolean,
): ChecksumOptions {
  const filter = pathFilter(input.excludePatterns, context.excluder(input.excludePatterns));
  const onListed = (path: string, listing: ScannedDirectory): void => {
    context.listings.keep(path, listing);
  };
  return {
    root: input.dir,
    statCache: context.statCache,
    pool: context.pool,
    includeOwnership: false,
    excludes: filter.excludes,
    mayKeepInside: (dir) => filter.mayKeepInside(dir),
    excludesKey: JSON.stringify(input.excludePatterns),
    ...(keepListings ? { onListed } : {}),
    signal: job.signal,
  };
}

function keyOfUnexpected(input: WorkerRef): Promise<Digest> {
  const text = JSON.stringify(input);
  return Promise.resolve(`sha256:${createHash('sha256').update(text).digest('hex')}` as Digest);
}
