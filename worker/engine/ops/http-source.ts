import { canonicalDigest, type Digest } from '../../../core/index.js';
import type { HttpSource, JobContext, SolverOp, Vertex } from '../../../solver/index.js';
import {
  fetchHttp,
  httpCacheKey,
  httpPinnedCacheKey,
  redactUrl,
  type FetchHttpResult,
} from '../../sources/index.js';
import { snapshotRef, type WorkerRef } from '../refs.js';
import { writeSnapshot } from '../views.js';
import type { OpContext } from './context.js';

interface Downloaded {
  readonly snapshot: string;
  readonly result: FetchHttpResult;
}

/**
 * `ADD <url>`: the download as a one-file snapshot (`/<filename>`, mode 0600,
 * mtime from Last-Modified), which the ADD's copy action then places with its
 * --chown/--chmod. Keys follow BuildKit's http source:
 * - with --checksum the key is known without any request (httpPinnedCacheKey), so a
 *   hit needs no network, and the download happens only in exec;
 * - without it, the key is the downloaded content's (httpCacheKey: name, digest,
 *   Last-Modified), so cacheMap itself downloads, into a committed snapshot that exec
 *   then returns without a second request. The solver's content-checksum hook does not
 *   fit: it hashes an input's result, and a source has no inputs. On a cache hit the
 *   fresh snapshot is referenced by no record, and the store's GC sweeps it.
 * Not done yet: BuildKit's If-None-Match with stored ETags, which skips the body of an
 * unchanged download.
 */
export function httpSourceOp(
  vertex: Vertex,
  source: HttpSource,
  context: OpContext,
): SolverOp<WorkerRef> {
  let download: Promise<Downloaded> | undefined;
  const fetchOnce = (job: JobContext): Promise<Downloaded> => {
    download ??= downloadToSnapshot(vertex, source, context, job);
    return download;
  };
  const pinned = httpPinnedCacheKey(source);
  return {
    async cacheMap(job) {
      const key: Digest = pinned ?? contentKey((await fetchOnce(job)).result);
      return {
        digest: canonicalDigest({ encoding: 'tbuild.op.v1', kind: 'http', key }),
        inputs: [],
        cacheable: true,
      };
    },
    async exec(_inputs, job) {
      return snapshotRef((await fetchOnce(job)).snapshot);
    },
  };
}

function contentKey(found: FetchHttpResult): Digest {
  return httpCacheKey({
    filename: found.filename,
    digest: found.digest,
    ...(found.lastModified === undefined ? {} : { lastModified: found.lastModified }),
  });
}

async function downloadToSnapshot(
  vertex: Vertex,
  source: HttpSource,
  context: OpContext,
  job: JobContext,
): Promise<Downloaded> {
  const id = `downloading ${redactUrl(source.url)}`;
  let result: FetchHttpResult | undefined;
  let last = { current: 0, total: undefined as number | undefined };
  const snapshot = await writeSnapshot(
    context.store,
    undefined,
    { signal: job.signal, direct: true },
    async (dir) => {
      result = await fetchHttp(source, {
        destDir: dir,
        signal: job.signal,
        logger: job.logger,
        progress: (current, total) => {
          last = { current, total };
          job.progress({
            type: 'vertex.status',
            vertex: vertex.digest,
            id,
            current,
            ...(total === undefined ? {} : { total }),
            completed: false,
            at: Date.now(),
          });
        },
      });
    },
  );
  job.progress({
    type: 'vertex.status',
    vertex: vertex.digest,
    id,
    current: last.current,
    ...(last.total === undefined ? {} : { total: last.total }),
    completed: true,
    at: Date.now(),
  });
  // writeSnapshot resolved, so the callback ran to the end and set result.
  return { snapshot, result: result as FetchHttpResult };
}
