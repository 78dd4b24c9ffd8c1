import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { TbuildError, canceledError, isTbuildError } from '../core/index.js';
import { redactUrl } from './redact.js';

/**
 * HTTP on node:http/node:https rather than fetch (undici), because a registry client needs:
 * - bodies exactly as sent: fetch silently gunzips `Content-Encoding: gzip`, which breaks
 *   digest checks when a CDN adds that header to a blob;
 * - streamed request bodies with an explicit Content-Length (monolithic blob PUTs), no
 *   `duplex: 'half'` caveats, and backpressure on both sides;
 * - keep-alive Agents we own (connection reuse across the many requests of a push,
 *   a per-registry TLS setting for insecure registries);
 * - plain `code`s on socket errors (ECONNRESET, …) to decide retries, where fetch wraps
 *   everything in "TypeError: fetch failed";
 * - redirects we follow ourselves, dropping Authorization when the origin changes.
 * Aborts use the `signal` option of http.request.
 */

export type RequestBody = Buffer | (() => Readable);

export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: RequestBody;
  /** Required with a stream body: the registry needs Content-Length for monolithic uploads. */
  readonly bodyLength?: number;
  readonly signal: AbortSignal;
  /** Follow 3xx redirects (GET and HEAD only). */
  readonly followRedirects?: boolean;
  /** Abort when the socket is idle this long (not a total timeout: big blobs take time). */
  readonly idleTimeoutMs?: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The URL that answered, after redirects. */
  readonly url: URL;
  readonly body: IncomingMessage;
}

export interface HttpAgents {
  readonly http: http.Agent;
  readonly https: https.Agent;
}

export function createAgents(options: { readonly verifyTls: boolean }): HttpAgents {
  return {
    http: new http.Agent({ keepAlive: true, maxSockets: 16 }),
    https: new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      rejectUnauthorized: options.verifyTls,
    }),
  };
}

export function destroyAgents(agents: HttpAgents): void {
  agents.http.destroy();
  agents.https.destroy();
}

const RETRYABLE_SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
  'TB_IDLE_TIMEOUT',
]);

/** A network-level failure as a TbuildError; `retryable` says whether a retry may help. */
export function networkError(
  error: unknown,
  method: string,
  url: URL,
  signal: AbortSignal,
): TbuildError {
  if (signal.aborted) return canceledError(signal);
  // A request body that failed on its own (a source blob that did not verify) keeps its error.
  if (isTbuildError(error)) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const retryable =
    (typeof code === 'string' && RETRYABLE_SOCKET_CODES.has(code)) ||
    /socket hang up|aborted/i.test(message);
  return new TbuildError('TB_REGISTRY_HTTP', `${method} ${redactUrl(url)}: ${message}`, {
    details: { retryable, ...(typeof code === 'string' ? { socketCode: code } : {}) },
    ...(retryable ? { hint: 'the connection failed; check the network or the registry' } : {}),
    cause: error,
  });
}

const MAX_REDIRECTS = 10;

export async function sendRequest(agents: HttpAgents, request: HttpRequest): Promise<HttpResponse> {
  let url = request.url;
  let headers = { ...request.headers };
  for (let hop = 0; ; hop++) {
    const response = await sendOnce(agents, { ...request, url, headers });
    const location = response.headers.location;
    const redirect = response.status >= 300 && response.status < 400 && location !== undefined;
    if (!redirect || request.followRedirects !== true || hop >= MAX_REDIRECTS) return response;
    response.body.resume();
    const next = new URL(location, url);
    if (next.origin !== url.origin) {
      // Never hand a registry token to object storage (S3 even rejects it).
      headers = Object.fromEntries(
        Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'),
      );
    }
    url = next;
  }
}

function sendOnce(agents: HttpAgents, request: HttpRequest): Promise<HttpResponse> {
  const { url, signal } = request;
  const isHttps = url.protocol === 'https:';
  const headers: Record<string, string> = { ...request.headers };
  const body = request.body;
  if (body === undefined) {
    if (request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH') {
      headers['content-length'] = '0';
    }
  } else if (Buffer.isBuffer(body)) {
    headers['content-length'] = String(body.length);
  } else if (request.bodyLength !== undefined) {
    headers['content-length'] = String(request.bodyLength);
  }
  return new Promise<HttpResponse>((resolve, reject) => {
    if (signal.aborted) {
      reject(canceledError(signal));
      return;
    }
    const options: http.RequestOptions = {
      method: request.method,
      headers,
      agent: isHttps ? agents.https : agents.http,
      signal,
    };
    const req = (isHttps ? https : http).request(url, options, (res) => {
      if (request.idleTimeoutMs !== undefined) {
        res.setTimeout(request.idleTimeoutMs, () => {
          res.destroy(
            Object.assign(new Error('idle timeout while reading the body'), {
              code: 'TB_IDLE_TIMEOUT',
            }),
          );
        });
      }
      resolve({ status: res.statusCode ?? 0, headers: res.headers, url, body: res });
    });
    if (request.idleTimeoutMs !== undefined) {
      req.setTimeout(request.idleTimeoutMs, () => {
        req.destroy(
          Object.assign(new Error('idle timeout waiting for the registry'), {
            code: 'TB_IDLE_TIMEOUT',
          }),
        );
      });
    }
    req.on('error', (error) => {
      reject(networkError(error, request.method, url, signal));
    });
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      const stream = body();
      stream.on('error', (error) => req.destroy(error));
      // A request that fails or is answered early must not leave the source open (a file, a download).
      req.on('close', () => {
        if (!stream.readableEnded) stream.destroy();
      });
      stream.pipe(req);
    }
  });
}

/** Reads a whole (small) body, refusing more than `limit` bytes. */
export async function readBody(
  response: HttpResponse,
  limit: number,
  signal: AbortSignal,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        response.body.destroy();
        throw new TbuildError(
          'TB_REGISTRY_HTTP',
          `response from ${redactUrl(response.url)} is larger than ${String(limit)} bytes`,
        );
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof TbuildError) throw error;
    throw networkError(error, 'GET', response.url, signal);
  }
  return Buffer.concat(chunks);
}

/** Drains a body we do not need, so the keep-alive socket can be reused. */
export function discardBody(response: HttpResponse): void {
  response.body.resume();
  response.body.on('error', () => undefined);
}

export function headerValue(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}
