/**
 * ADD's URL source: one GET, streamed to a temporary file in the destination while it is
 * hashed, renamed to its final name only once complete and verified, so a partial or
 * wrong download is never visible. Follows BuildKit's http source (source/http):
 * - the file is mode 0600 (ADD --chmod changes it later), owned by the caller;
 * - its mtime is the `Last-Modified` of the response, or the epoch when there is none;
 * - its name comes from {@link downloadFileName};
 * - `--checksum` is checked against the sha256 of the bytes as received (after any
 *   Content-Encoding was undone, as Go's client and fetch both do);
 * - only 2xx is success; redirects are followed (fetch's limit of 20); user-info in the
 *   URL becomes Basic auth, which fetch drops on a cross-origin redirect.
 * Credentials in the URL never appear in an error or a log line.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, utimes } from 'node:fs/promises';
import {
  TbuildError,
  canceledError,
  noopLogger,
  throwIfAborted,
  type Digest,
  type Logger,
} from '../../core/index.js';
import type { HttpSource } from '../../solver/index.js';
import { parseHttpChecksum } from './checksum.js';
import { downloadFileName } from './http-filename.js';
import { redactCredentialsIn, redactUrl, splitCredentials } from './redact.js';

export interface FetchHttpOptions {
  /** Directory the file is written into; created when missing. */
  readonly destDir: string;
  readonly signal: AbortSignal;
  /** Bytes received so far, and the Content-Length when the server sent one. */
  readonly progress?: (current: number, total: number | undefined) => void;
  readonly logger?: Logger;
  /** Permission bits of the file; BuildKit's default is 0600. */
  readonly mode?: number;
  readonly userAgent?: string;
}

export interface FetchHttpResult {
  /** Host path of the downloaded file (`destDir/filename`). */
  readonly path: string;
  readonly filename: string;
  /** sha256 of the content as written. */
  readonly digest: Digest;
  /** From `Last-Modified`; the file's mtime (the epoch when absent). */
  readonly lastModified?: Date;
  readonly etag?: string;
}

const DEFAULT_MODE = 0o600;

export async function fetchHttp(
  source: HttpSource,
  options: FetchHttpOptions,
): Promise<FetchHttpResult> {
  const logger = options.logger ?? noopLogger;
  const shown = redactUrl(source.url);
  const expected =
    source.checksum === undefined ? undefined : parseHttpChecksum(source.checksum, shown);
  const { url, authorization } = parseSourceUrl(source.url, shown);
  throwIfAborted(options.signal);

  logger.debug('downloading', { url: shown });
  const response = await request(url, authorization, options, shown);
  const filename = downloadFileName(
    source.url,
    source.filename,
    response.headers.get('content-disposition'),
  );
  await mkdir(options.destDir, { recursive: true });
  const temporary = `${options.destDir}/.tbuild-download-${randomBytes(8).toString('hex')}`;
  try {
    const digest = await saveBody(response, temporary, options, shown);
    if (expected !== undefined && digest !== expected) {
      throw new TbuildError(
        'TB_CHECKSUM_MISMATCH',
        `checksum mismatch for ${shown}: got ${digest}, expected ${expected}`,
        {
          details: { url: shown, actual: digest, expected },
          hint: 'the file changed upstream, or the --checksum is wrong',
        },
      );
    }
    const lastModified = parseHttpDate(response.headers.get('last-modified'));
    await chmod(temporary, options.mode ?? DEFAULT_MODE);
    const mtime = lastModified ?? new Date(0);
    await utimes(temporary, mtime, mtime);
    const path = `${options.destDir}/${filename}`;
    await rename(temporary, path);
    const etag = response.headers.get('etag') ?? undefined;
    logger.debug('downloaded', { url: shown, filename, digest });
    return {
      path,
      filename,
      digest,
      ...(lastModified === undefined ? {} : { lastModified }),
      ...(etag === undefined ? {} : { etag }),
    };
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function parseSourceUrl(raw: string, shown: string): { url: URL; authorization?: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (error) {
    throw new TbuildError('TB_HTTP_SOURCE', `invalid URL ${shown}`, { cause: error });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TbuildError('TB_HTTP_SOURCE', `unsupported URL scheme in ${shown}`, {
      hint: 'ADD downloads http:// and https:// URLs; git repositories end in .git or use git://',
    });
  }
  return splitCredentials(url);
}

async function request(
  url: URL,
  authorization: string | undefined,
  options: FetchHttpOptions,
  shown: string,
): Promise<Response> {
  const headers: Record<string, string> = { 'user-agent': options.userAgent ?? 'tbuild' };
  if (authorization !== undefined) headers['authorization'] = authorization;
  let response: Response;
  try {
    response = await fetch(url, { headers, redirect: 'follow', signal: options.signal });
  } catch (error) {
    if (options.signal.aborted) throw canceledError(options.signal);
    throw new TbuildError('TB_HTTP_SOURCE', `failed to download ${shown}: ${describe(error)}`, {
      cause: error,
      details: { url: shown },
    });
  }
  if (response.status < 200 || response.status > 299) {
    await response.body?.cancel().catch(() => undefined);
    throw new TbuildError(
      'TB_HTTP_SOURCE',
      `failed to download ${shown}: the server answered ${String(response.status)} ${response.statusText}`.trimEnd(),
      { details: { url: shown, status: response.status } },
    );
  }
  return response;
}

/** Streams the body into `path` (created exclusively), returning its sha256. */
async function saveBody(
  response: Response,
  path: string,
  options: FetchHttpOptions,
  shown: string,
): Promise<Digest> {
  const hash = createHash('sha256');
  const length = response.headers.get('content-length');
  const total =
    length !== null && /^\d+$/.test(length) && response.headers.get('content-encoding') === null
      ? Number(length)
      : undefined;
  let received = 0;
  options.progress?.(0, total);
  const handle = await open(path, 'wx', options.mode ?? DEFAULT_MODE);
  try {
    if (response.body !== null) {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        throwIfAborted(options.signal);
        hash.update(chunk);
        await handle.write(chunk);
        received += chunk.byteLength;
        options.progress?.(received, total);
      }
    }
  } catch (error) {
    if (options.signal.aborted) throw canceledError(options.signal);
    if (error instanceof TbuildError) throw error;
    throw new TbuildError(
      'TB_HTTP_SOURCE',
      `failed to download ${shown}: the body broke off after ${String(received)} bytes: ${describe(error)}`,
      { cause: error, details: { url: shown, received } },
    );
  } finally {
    await handle.close();
  }
  return `sha256:${hash.digest('hex')}` as Digest;
}

/** An HTTP date (RFC 1123, RFC 850 or asctime, all of which Date.parse reads), or undefined. */
export function parseHttpDate(value: string | null): Date | undefined {
  if (value === null) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time);
}

/** fetch hides the useful part of a network error in `cause`. */
function describe(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    parts.push(current.message);
    current = current.cause;
  }
  return redactCredentialsIn(parts.join(': ') || String(error));
}
