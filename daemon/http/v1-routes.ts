import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TbuildError } from '../../core/index.js';
import type { BuildRecord, BuildStatus } from '../builds/build-record.js';
import type { Builds, EventFeed } from '../builds/builds.js';
import type { RecordStore } from '../builds/record-store.js';
import type { ServiceConfig } from '../config.js';
import { extractContextTar } from '../context-tar.js';
import { callerOf } from './caller.js';
import { parseBuildQuery, type QueriedBuild, type Query } from './build-query.js';

/** A secret sent as a multipart part may be this large (BuildKit's own limit is 500 KiB). */
const MAX_SECRET_BYTES = 512 * 1024;

/** How often an idle event stream sends a comment, so proxies keep it open. */
const HEARTBEAT_MS = 15_000;

export interface V1Dependencies {
  readonly manager: Builds;
  readonly records: RecordStore;
  readonly config: ServiceConfig;
}

/** The native API: `/v1/builds` and what hangs off one build. */
export function registerV1Routes(app: FastifyInstance, deps: V1Dependencies): void {
  const { manager } = deps;

  app.post('/v1/builds', { config: { scope: 'build' } }, async (request, reply) => {
    const queried = parseBuildQuery(request.query as Query, deps.config);
    const id = request.isMultipart()
      ? await submitMultipart(request, deps, queried)
      : await submitContext(request, deps, queried, request.body as Readable);
    const record = await manager.get(id);
    return reply.code(202).send(summary(record));
  });

  app.get('/v1/builds', { config: { scope: 'read' } }, async (request) => {
    const query = request.query as Query;
    const limit = Number(single(query, 'limit') ?? '50');
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new TbuildError('TB_SERVICE_REQUEST', 'limit must be an integer from 1 to 1000');
    const status = single(query, 'status');
    const cursor = single(query, 'cursor');
    const page = await manager.list({
      limit,
      ...(status === undefined ? {} : { status: status as BuildStatus }),
      ...(cursor === undefined ? {} : { cursor }),
    });
    return { builds: page.builds, ...(page.next === undefined ? {} : { next_cursor: page.next }) };
  });

  app.get('/v1/builds/:id', { config: { scope: 'read' } }, async (request) =>
    manager.get(idOf(request)),
  );

  app.post('/v1/builds/:id/cancel', { config: { scope: 'build' } }, async (request, reply) => {
    const record = await manager.cancel(idOf(request));
    return reply.code(202).send(summary(record));
  });

  app.get('/v1/builds/:id/logs', { config: { scope: 'read' } }, async (request, reply) => {
    const log = await manager.log(idOf(request));
    reply.type('text/plain; charset=utf-8');
    return reply.send(log);
  });

  app.get('/v1/builds/:id/events', { config: { scope: 'read' } }, async (request, reply) => {
    const id = idOf(request);
    const events = await manager.events(id);
    const lastHeader = request.headers['last-event-id'];
    const after = Number(
      typeof lastHeader === 'string' ? lastHeader : (single(request.query as Query, 'after') ?? 0),
    );
    streamEvents(reply, events, Number.isInteger(after) && after > 0 ? after : 0, () =>
      manager.get(id),
    );
  });
}

/** Extracts the request's context and queues the build; returns its id. */
export async function submitContext(
  request: FastifyRequest,
  deps: V1Dependencies,
  queried: QueriedBuild,
  body: Readable | undefined,
): Promise<string> {
  if (body === undefined || typeof body.pipe !== 'function')
    throw new TbuildError('TB_SERVICE_REQUEST', 'the body must be the build context as a tar', {
      hint: 'send Content-Type: application/x-tar (gzip accepted)',
    });
  return submitWith(request, deps, queried, async (dir, signal) => {
    await extractContextTar(body, dir, deps.config.limits, signal);
    return queried.secrets;
  });
}

/**
 * A multipart body: a `context` file part (the tar) and any number of
 * `secret:ID` parts, each a secret of that id for this build only. Secrets
 * stay in memory for the build's duration; they are never written anywhere.
 */
async function submitMultipart(
  request: FastifyRequest,
  deps: V1Dependencies,
  queried: QueriedBuild,
): Promise<string> {
  return submitWith(request, deps, queried, async (dir, signal) => {
    const secrets = new Map(queried.secrets);
    let context = false;
    for await (const part of request.parts()) {
      if (part.type === 'file' && part.fieldname === 'context') {
        await extractContextTar(part.file, dir, deps.config.limits, signal);
        context = true;
        continue;
      }
      const secretId = /^secret:([\w.-]+)$/.exec(part.fieldname)?.[1];
      if (secretId === undefined)
        throw new TbuildError('TB_SERVICE_REQUEST', `unknown multipart part "${part.fieldname}"`, {
          hint: 'send the context as a file part named context and secrets as parts named secret:ID',
        });
      const value = part.type === 'file' ? await part.toBuffer() : Buffer.from(String(part.value));
      if (value.length > MAX_SECRET_BYTES)
        throw new TbuildError(
          'TB_SERVICE_LIMIT',
          `secret ${secretId} is larger than ${String(MAX_SECRET_BYTES)} bytes`,
        );
      secrets.set(secretId, () => Promise.resolve(value));
    }
    if (!context)
      throw new TbuildError('TB_SERVICE_REQUEST', 'the multipart body has no context part', {
        hint: 'add the build context as a file part named context (a tar)',
      });
    return secrets;
  });
}

/** Writes the context (and gathers the secrets) with `receive`, then queues the build. */
async function submitWith(
  request: FastifyRequest,
  deps: V1Dependencies,
  queried: QueriedBuild,
  receive: (
    dir: string,
    signal: AbortSignal,
  ) => Promise<ReadonlyMap<string, () => Promise<Uint8Array>>>,
): Promise<string> {
  const id = deps.manager.newId();
  const dir = await deps.records.contextDir(id);
  const aborted = new AbortController();
  request.raw.once('close', () => {
    if (!request.raw.complete) aborted.abort();
  });
  try {
    const secrets = await receive(dir, aborted.signal);
    await deps.manager.submit({
      id,
      owner: callerOf(request).name,
      options: queried.options,
      shownOptions: queried.shown,
      contextDir: dir,
      ...(queried.dockerfile === undefined ? {} : { dockerfile: queried.dockerfile }),
      secrets,
    });
  } catch (error) {
    await deps.records.removeContext(id);
    throw error;
  }
  return id;
}

function summary(record: BuildRecord) {
  const self = `/v1/builds/${record.id}`;
  return {
    id: record.id,
    status: record.status,
    links: {
      self,
      events: `${self}/events`,
      logs: `${self}/logs`,
      cancel: `${self}/cancel`,
    },
  };
}

/**
 * Server-sent events: every recorded status from `after` on (`id:` is its
 * number, for Last-Event-ID), then live ones, then `event: end` with the
 * build's final status.
 */
function streamEvents(
  reply: FastifyReply,
  events: EventFeed,
  after: number,
  record: () => Promise<BuildRecord>,
): void {
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), HEARTBEAT_MS);
  let unsubscribe: () => void = () => undefined;
  const close = (): void => {
    clearInterval(heartbeat);
    unsubscribe();
  };
  out.on('close', close);
  unsubscribe = events.subscribe(after, {
    event: (id, line) => out.write(`id: ${String(id)}\ndata: ${line}\n\n`),
    end: () => {
      void record()
        .then(({ status, error }) => {
          out.end(
            `event: end\ndata: ${JSON.stringify({ status, ...(error === undefined ? {} : { error }) })}\n\n`,
          );
        })
        .catch(() => out.end())
        .finally(close);
    },
  });
}

function idOf(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

function single(query: Query, name: string): string | undefined {
  const value = query[name];
  if (value === undefined || typeof value === 'string') return value;
  throw new TbuildError('TB_SERVICE_REQUEST', `query parameter "${name}" was given more than once`);
}
