import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import { TbuildError } from '../core/index.js';

/** Where a Docker daemon listens, as DOCKER_HOST names it. */
export type DockerAddress =
  | { readonly kind: 'unix'; readonly path: string; readonly text: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly text: string };

/** The daemon docker's own client talks to without DOCKER_HOST. */
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** Reads `unix:///path` or `tcp://host:port` (DOCKER_HOST's forms without TLS). */
export function parseDockerHost(text: string): DockerAddress {
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    if (path.startsWith('/')) return { kind: 'unix', path, text };
  }
  const tcp = /^(?:tcp|http):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(text);
  if (tcp?.[1] !== undefined) {
    const host = tcp[1].replace(/^\[|\]$/g, '');
    return { kind: 'tcp', host, port: Number(tcp[2] ?? '2375'), text };
  }
  throw new TbuildError(
    'TB_USAGE',
    `DOCKER_HOST "${text}" is not unix:///PATH or tcp://HOST:PORT`,
    {
      hint: 'tbuild loads images over a unix socket or plain TCP; TLS and ssh:// are not supported',
    },
  );
}

/** Fails with TB_DOCKER_UNAVAILABLE, naming the address, unless the daemon answers `GET /_ping`. */
export async function pingDocker(address: DockerAddress, signal: AbortSignal): Promise<void> {
  const req = request({ ...target(address), method: 'GET', path: '/_ping', signal });
  req.end();
  const res = await response(req).catch((error: unknown) => {
    throw unreachable(address, error, signal);
  });
  const body = await readAll(res);
  if (res.statusCode !== 200)
    throw unreachable(
      address,
      new Error(`GET /_ping answered HTTP ${String(res.statusCode)}: ${body.trim()}`),
      signal,
    );
}

/**
 * Loads a docker archive (`docker save` format) into the daemon at `address`
 * through its API, `POST /images/load`, as `docker load` does. `send` writes
 * the archive into the request body and ends it. The daemon answers with a
 * stream of JSON messages; one with `error` fails the load. Returns the
 * daemon's `Loaded image…` lines.
 */
export async function loadIntoDocker(
  address: DockerAddress,
  send: (body: Writable) => Promise<void>,
  signal: AbortSignal,
): Promise<string[]> {
  // Asked first, so a missing daemon is named before any archive is made.
  await pingDocker(address, signal);
  const req = request({
    ...target(address),
    method: 'POST',
    path: '/images/load?quiet=1',
    headers: { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' },
    signal,
  });
  // The body is sent while the answer is awaited: a daemon may answer (and refuse)
  // before it has read everything.
  const [sent, answered] = await Promise.allSettled([send(req), response(req)]);
  if (answered.status === 'rejected') {
    if (sent.status === 'rejected' && !isConnectionError(sent.reason)) throw sent.reason;
    throw unreachable(address, answered.reason, signal);
  }
  const res = answered.value;
  const body = await readAll(res);
  if (res.statusCode !== 200) {
    throw new TbuildError(
      'TB_DOCKER_LOAD',
      `the Docker daemon at ${address.text} refused the image: HTTP ${String(res.statusCode)}: ${daemonMessage(body)}`,
    );
  }
  const loaded: string[] = [];
  for (const line of body.split('\n')) {
    if (line.trim() === '') continue;
    const message = parseMessage(line);
    if (message.error !== undefined)
      throw new TbuildError(
        'TB_DOCKER_LOAD',
        `the Docker daemon at ${address.text} refused the image: ${message.error}`,
      );
    if (message.stream !== undefined && message.stream.trim() !== '')
      loaded.push(message.stream.trim());
  }
  if (sent.status === 'rejected') throw sent.reason;
  return loaded;
}

/** A failure of the connection itself, not of what was being sent over it. */
function isConnectionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  return ['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ENOENT', 'ERR_STREAM_DESTROYED'].includes(code);
}

function target(address: DockerAddress): { socketPath: string } | { host: string; port: number } {
  return address.kind === 'unix'
    ? { socketPath: address.path }
    : { host: address.host, port: address.port };
}

function response(req: ClientRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseMessage(line: string): { stream?: string; error?: string } {
  try {
    const value = JSON.parse(line) as { stream?: unknown; error?: unknown };
    return {
      ...(typeof value.stream === 'string' ? { stream: value.stream } : {}),
      ...(typeof value.error === 'string' ? { error: value.error } : {}),
    };
  } catch {
    return { stream: line };
  }
}

/** The `message` of the daemon's JSON error body, or the body itself. */
function daemonMessage(body: string): string {
  try {
    const value = JSON.parse(body) as { message?: unknown };
    if (typeof value.message === 'string') return value.message;
  } catch {
    // Not JSON: the text is the message.
  }
  return body.trim();
}

function unreachable(address: DockerAddress, error: unknown, signal: AbortSignal): TbuildError {
  if (signal.aborted)
    return new TbuildError('TB_CANCELED', 'the load was canceled', { cause: error });
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const reason = error instanceof Error ? error.message : String(error);
  return new TbuildError(
    'TB_DOCKER_UNAVAILABLE',
    `cannot load the image into Docker: no Docker daemon answers at ${address.text} (${code === '' ? reason : code})`,
    {
      hint: 'start dockerd, set DOCKER_HOST to where it listens, or write a file with -o type=docker,dest=FILE',
    },
  );
}
