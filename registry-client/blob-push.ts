import { Readable, Transform } from 'node:stream';
import { type Digest, TbuildError, isTbuildError } from '../core/index.js';
import { headBlob, mismatch } from './blob-fetch.js';
import type { RegistryClient } from './client.js';
import { type HttpResponse, discardBody, headerValue } from './http-transport.js';
import { type RepositoryRef, formatRepository } from './reference.js';
import { responseError } from './registry-errors.js';
import { withRetry } from './retry.js';
import { repositoryScope } from './scope.js';

/**
 * Blob upload as containerd and BuildKit do it: HEAD to skip what is there, a
 * cross-repository mount when a source repository on the same registry is known, else
 * POST then one monolithic PUT (`application/octet-stream`, Content-Length), always to the
 * latest Location (distribution cancels a session reused from a stale one). Upload
 * sessions are not idempotent: a retry starts again from HEAD.
 */

export interface BlobSource {
  readonly digest: Digest;
  readonly size: number;
  /** The content; called again whenever an upload restarts. */
  readonly open: () => Readable | Buffer;
}

export type PushBlobResult = 'exists' | 'mounted' | 'uploaded';

export interface PushBlobOptions {
  readonly signal: AbortSignal;
  /** Repositories on the same registry that may hold the blob, tried as mount sources. */
  readonly mountFrom?: readonly string[];
  readonly onProgress?: (sent: number, total: number) => void;
}

function location(response: HttpResponse, what: string): URL {
  const value = headerValue(response, 'location');
  if (value === undefined)
    throw new TbuildError('TB_REGISTRY_HTTP', `${what}: the registry sent no Location`);
  // Relative Locations resolve against the URL that answered; the query (`_state`) is kept.
  return new URL(value, response.url);
}

function countingBody(blob: BlobSource, onProgress: PushBlobOptions['onProgress']): () => Readable {
  return () => {
    const content = blob.open();
    const source = Buffer.isBuffer(content) ? Readable.from([content]) : content;
    let sent = 0;
    onProgress?.(0, blob.size);
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        sent += chunk.length;
        onProgress?.(sent, blob.size);
        done(null, chunk);
      },
    });
    source.on('error', (error) => counter.destroy(error));
    return source.pipe(counter);
  };
}

/** Tries a mount; returns 'mounted', an upload URL to continue with (202), or undefined to start afresh. */
async function tryMount(
  client: RegistryClient,
  repo: RepositoryRef,
  blob: BlobSource,
  from: string,
  signal: AbortSignal,
): Promise<'mounted' | URL | undefined> {
  const scopes = [
    repositoryScope(repo.repository, ['pull', 'push']),
    repositoryScope(from, ['pull']),
  ];
  const query = new URLSearchParams({ mount: blob.digest, from });
  const response = await client.request(repo, {
    method: 'POST',
    path: `/v2/${repo.repository}/blobs/uploads/?${query.toString()}`,
    scopes,
    signal,
  });
  const what = `mounting ${blob.digest} from ${from}`;
  if (response.status === 201) {
    discardBody(response);
    const digest = headerValue(response, 'docker-content-digest');
    if (digest !== undefined && digest !== blob.digest)
      throw mismatch(what, `the registry mounted ${digest}`, false);
    return 'mounted';
  }
  if (response.status === 202) {
    discardBody(response);
    return location(response, what);
  }
  // Mounting is an optimisation: refusals (401/403 on the source, errors) fall back to uploading.
  client.logger.debug('cross-repository mount refused, uploading', {
    blob: blob.digest,
    from,
    status: response.status,
  });
  discardBody(response);
  return undefined;
}

async function startUpload(
  client: RegistryClient,
  repo: RepositoryRef,
  scopes: readonly string[],
  signal: AbortSignal,
): Promise<URL> {
  const what = `starting an upload to ${formatRepository(repo)}`;
  const response = await client.request(repo, {
    method: 'POST',
    path: `/v2/${repo.repository}/blobs/uploads/`,
    scopes,
    signal,
  });
  if (response.status === 401 || response.status === 403)
    throw await client.authError(repo, response, scopes, what, signal);
  if (response.status !== 202 && response.status !== 201)
    throw await responseError(response, what, signal);
  discardBody(response);
  return location(response, what);
}

async function putContent(
  client: RegistryClient,
  repo: RepositoryRef,
  upload: URL,
  blob: BlobSource,
  scopes: readonly string[],
  options: PushBlobOptions,
): Promise<void> {
  const what = `uploading ${blob.digest} to ${formatRepository(repo)}`;
  const url = new URL(upload);
  url.searchParams.set('digest', blob.digest);
  const response = await client.request(repo, {
    method: 'PUT',
    path: url.toString(),
    scopes,
    headers: { 'content-type': 'application/octet-stream' },
    body: countingBody(blob, options.onProgress),
    bodyLength: blob.size,
    signal: options.signal,
  });
  if (response.status === 401 || response.status === 403)
    throw await client.authError(repo, response, scopes, what, options.signal);
  if (response.status < 200 || response.status > 204) {
    const error = await responseError(response, what, options.signal);
    const codes = error.details?.['registryCodes'];
    // A lost session (load balancer without a shared secret, or a proxy hiccup): start again.
    const lost =
      Array.isArray(codes) &&
      codes.some((c) => c === 'BLOB_UPLOAD_UNKNOWN' || c === 'BLOB_UPLOAD_INVALID');
    throw lost
      ? new TbuildError(error.code, error.message, {
          details: { ...error.details, retryable: true },
          cause: error,
        })
      : error;
  }
  discardBody(response);
  const stored = headerValue(response, 'docker-content-digest');
  if (stored !== undefined && stored !== blob.digest)
    throw mismatch(what, `the registry stored ${stored}`, false);
}

/** Makes sure `repo` has the blob: skip, mount or upload. */
export function pushBlob(
  client: RegistryClient,
  repo: RepositoryRef,
  blob: BlobSource,
  options: PushBlobOptions,
): Promise<PushBlobResult> {
  const scopes = [repositoryScope(repo.repository, ['pull', 'push'])];
  let mountSources = (options.mountFrom ?? []).filter((source) => source !== repo.repository);
  return withRetry(
    `pushing blob ${blob.digest}`,
    async () => {
      if (await headBlob(client, repo, blob.digest, scopes, options.signal)) {
        options.onProgress?.(blob.size, blob.size);
        return 'exists';
      }
      let upload: URL | undefined;
      for (const from of mountSources) {
        try {
          const mounted = await tryMount(client, repo, blob, from, options.signal);
          if (mounted === 'mounted') {
            options.onProgress?.(blob.size, blob.size);
            return 'mounted';
          }
          upload = mounted;
          if (upload !== undefined) break;
        } catch (error) {
          if (isTbuildError(error, 'TB_CANCELED')) throw error;
          client.logger.debug('cross-repository mount failed, uploading', {
            blob: blob.digest,
            from,
            error: String(error),
          });
        }
      }
      mountSources = []; // tried once; a retry goes straight to upload
      upload ??= await startUpload(client, repo, scopes, options.signal);
      await putContent(client, repo, upload, blob, scopes, options);
      return 'uploaded';
    },
    { ...client.retry, signal: options.signal, logger: client.logger },
  );
}
