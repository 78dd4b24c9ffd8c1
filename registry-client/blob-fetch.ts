import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { type Digest, TbuildError, isTbuildError } from '../core/index.js';
import type { RegistryClient } from './client.js';
import { discardBody, headerValue, networkError } from './http-transport.js';
import { type RepositoryRef, formatRepository } from './reference.js';
import { responseError } from './registry-errors.js';
import { isRetryable, sleep, withRetry } from './retry.js';
import { repositoryScope } from './scope.js';

/**
 * Blobs as verified streams. Bytes are hashed as they pass; the stream ends only when
 * size and digest match, and errors with TB_REGISTRY_DIGEST_MISMATCH otherwise, so a
 * consumer that waits for 'end' (a content store writing a temp file, say) never takes
 * unverified data as complete. A dropped connection or a short body resumes with
 * `Range: bytes=<offset>-` (or restarts, discarding what it already has, on a 200).
 */

export interface BlobTarget {
  readonly digest: Digest;
  /** Known from the manifest; checked while streaming when given. */
  readonly size?: number;
}

export interface FetchBlobOptions {
  readonly signal: AbortSignal;
  /** Bytes received so far and the expected total (when known). */
  readonly onProgress?: (received: number, total: number | undefined) => void;
}

export function mismatch(what: string, why: string, retryable: boolean): TbuildError {
  return new TbuildError('TB_REGISTRY_DIGEST_MISMATCH', `${what}: ${why}`, {
    hint: 'the registry or something between it and us corrupted the data; it was discarded',
    details: { retryable },
  });
}

export function blobPath(repo: RepositoryRef, digest: Digest): string {
  return `/v2/${repo.repository}/blobs/${digest}`;
}

async function* blobChunks(
  client: RegistryClient,
  repo: RepositoryRef,
  blob: BlobTarget,
  options: FetchBlobOptions,
): AsyncGenerator<Buffer> {
  const what = `blob ${blob.digest} of ${formatRepository(repo)}`;
  const scopes = [repositoryScope(repo.repository, ['pull'])];
  const attempts = client.retry.attempts ?? 5;
  const hash = createHash('sha256');
  let offset = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await client.request(repo, {
        method: 'GET',
        path: blobPath(repo, blob.digest),
        scopes,
        headers: offset > 0 ? { range: `bytes=${String(offset)}-` } : {},
        signal: options.signal,
        followRedirects: true,
      });
      if (response.status === 401 || response.status === 403) {
        throw await client.authError(repo, response, scopes, `pulling ${what}`, options.signal);
      }
      let skip = 0;
      if (response.status === 206) {
        const start = /^bytes (\d+)-/.exec(headerValue(response, 'content-range') ?? '')?.[1];
        if (start === undefined || Number(start) !== offset) {
          discardBody(response);
          throw mismatch(
            what,
            `the registry answered a range request from ${String(offset)} with ${headerValue(response, 'content-range') ?? 'no Content-Range'}`,
            false,
          );
        }
      } else if (response.status === 200) {
        skip = offset; // the server ignored Range: drop what we already have
      } else {
        throw await responseError(response, `pulling ${what}`, options.signal);
      }
      try {
        for await (const chunk of response.body as AsyncIterable<Buffer>) {
          let data = chunk;
          if (skip > 0) {
            const dropped = Math.min(skip, data.length);
            skip -= dropped;
            data = data.subarray(dropped);
            if (data.length === 0) continue;
          }
          offset += data.length;
          if (blob.size !== undefined && offset > blob.size) {
            throw mismatch(
              what,
              `more than the ${String(blob.size)} bytes the manifest says`,
              false,
            );
          }
          hash.update(data);
          options.onProgress?.(offset, blob.size);
          yield data;
        }
      } catch (error) {
        response.body.destroy();
        throw isTbuildError(error)
          ? error
          : networkError(error, 'GET', response.url, options.signal);
      }
      if (blob.size !== undefined && offset < blob.size) {
        throw new TbuildError(
          'TB_REGISTRY_HTTP',
          `${what}: the body ended after ${String(offset)} of ${String(blob.size)} bytes`,
          {
            details: { retryable: true },
          },
        );
      }
      break;
    } catch (error) {
      // Every byte arrived before the connection dropped: nothing to resume, just verify.
      if (blob.size !== undefined && offset === blob.size && isRetryable(error)) break;
      if (!isRetryable(error) || attempt >= attempts || options.signal.aborted) throw error;
      const delay = Math.min(10_000, (client.retry.baseDelayMs ?? 200) * 2 ** (attempt - 1));
      client.logger.warn('blob download interrupted, resuming', {
        blob: blob.digest,
        offset,
        attempt,
        error: error instanceof Error ? error.message : String(error),
      });
      await sleep(delay, options.signal);
    }
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== blob.digest) throw mismatch(what, `the content hashes to ${actual}`, false);
}

/** A stream of the blob's bytes that ends only once they are verified. */
export function fetchBlob(
  client: RegistryClient,
  repo: RepositoryRef,
  blob: BlobTarget,
  options: FetchBlobOptions,
): Readable {
  return Readable.from(blobChunks(client, repo, blob, options), { objectMode: false });
}

/** A small blob (a config) in memory, verified; a corrupted copy is fetched again. */
export async function fetchBlobBytes(
  client: RegistryClient,
  repo: RepositoryRef,
  blob: BlobTarget,
  options: FetchBlobOptions & { readonly maxBytes?: number },
): Promise<Buffer> {
  const limit = options.maxBytes ?? 64 * 1024 * 1024;
  // blobChunks already retries transport failures; this loop only refetches corrupted copies.
  const attempts = client.retry.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of blobChunks(client, repo, blob, options)) {
        size += chunk.length;
        if (size > limit) {
          throw new TbuildError(
            'TB_REGISTRY_HTTP',
            `blob ${blob.digest} is larger than ${String(limit)} bytes`,
          );
        }
        chunks.push(chunk);
      }
      return Buffer.concat(chunks);
    } catch (error) {
      // In memory, nothing was handed out yet: a corrupted copy can simply be fetched again.
      if (!isTbuildError(error, 'TB_REGISTRY_DIGEST_MISMATCH') || attempt >= attempts) throw error;
      client.logger.warn('blob did not verify, fetching it again', { blob: blob.digest, attempt });
    }
  }
}

/** HEAD without retries: 200 → true, 404 → false. */
export async function headBlob(
  client: RegistryClient,
  repo: RepositoryRef,
  digest: Digest,
  scopes: readonly string[],
  signal: AbortSignal,
): Promise<boolean> {
  const response = await client.request(repo, {
    method: 'HEAD',
    path: blobPath(repo, digest),
    scopes,
    signal,
    followRedirects: true,
  });
  discardBody(response);
  if (response.status === 200) return true;
  if (response.status === 404) return false;
  if (response.status === 401 || response.status === 403) {
    throw await client.authError(repo, response, scopes, `checking blob ${digest}`, signal);
  }
  throw await responseError(
    response,
    `checking blob ${digest} in ${formatRepository(repo)}`,
    signal,
  );
}

/** Whether the repository has the blob (HEAD). */
export function blobExists(
  client: RegistryClient,
  repo: RepositoryRef,
  digest: Digest,
  signal: AbortSignal,
): Promise<boolean> {
  const scopes = [repositoryScope(repo.repository, ['pull'])];
  return withRetry(
    `checking blob ${digest}`,
    () => headBlob(client, repo, digest, scopes, signal),
    {
      ...client.retry,
      signal,
      logger: client.logger,
    },
  );
}
