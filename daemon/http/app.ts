import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { TbuildError } from '../../core/index.js';
import type { Builds } from '../builds/builds.js';
import type { RecordStore } from '../builds/record-store.js';
import type { Scope, ServiceConfig } from '../config.js';
import type { ServiceMetrics } from '../metrics.js';
import { authenticate, requireScope } from './auth.js';
import { callerOf, setCaller } from './caller.js';
import { errorReply } from './error-reply.js';
import { registerV1Routes } from './v1-routes.js';

/** Content types a build context may come as: a tar, maybe gzipped (Docker clients send these). */
export const CONTEXT_TYPES = [
  'application/x-tar',
  'application/tar',
  'application/gzip',
  'application/x-gzip',
  'application/octet-stream',
];

/** What a route's options may say: the scope it needs, that it is public, that it speaks Docker. */
export interface RouteConfig {
  readonly scope?: Scope;
  readonly public?: boolean;
  /** Errors as the Docker Engine API writes them (`{"message": …}`). */
  readonly docker?: boolean;
}

export interface AppDependencies {
  readonly config: ServiceConfig;
  readonly manager: Builds;
  readonly records: RecordStore;
  readonly metrics: ServiceMetrics;
  /** fastify's pino logger options; false for none (tests). */
  readonly logger: NonNullable<FastifyServerOptions['logger']>;
  /** Adds the routes of other surfaces (the Docker API, the web view). */
  readonly extraRoutes?: readonly ((app: FastifyInstance) => void)[];
}

/**
 * The service's HTTP application (fastify): auth and scopes on every route but
 * the health checks, errors as `{code, message}` with the TbuildError codes,
 * build contexts read as streams, and the routes. Not bound to a socket:
 * service.ts serves it on each listen address.
 */
export async function createApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger,
    // JSON bodies are small; contexts are streams, counted against limits.bodyBytes as read.
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
  });
  app.addContentTypeParser(CONTEXT_TYPES, (_request, payload, done) => {
    done(null, payload);
  });
  // A context with secrets comes as multipart (docs/service.md): parts are read as streams.
  await app.register(multipart, {
    limits: {
      fileSize: deps.config.limits.bodyBytes,
      files: 1000,
      fields: 1000,
      headerPairs: 100,
    },
  });

  app.addHook('onRequest', (request, _reply, done) => {
    const config = request.routeOptions.config as RouteConfig;
    try {
      if (config.public !== true)
        setCaller(request, authenticate(deps.config.tokens, request.headers.authorization));
      done();
    } catch (error) {
      done(error as Error);
    }
  });
  app.addHook('preHandler', (request, _reply, done) => {
    const config = request.routeOptions.config as RouteConfig;
    try {
      if (config.public !== true && config.scope !== undefined)
        requireScope(callerOf(request), config.scope);
      done();
    } catch (error) {
      done(error as Error);
    }
  });

  app.setErrorHandler(async (error, request, reply) => {
    const { status, error: tbuildError } = errorReply(error);
    if (status >= 500) request.log.error({ code: tbuildError.code, err: error }, 'request failed');
    if (tbuildError.code === 'TB_SERVICE_QUEUE_FULL') void reply.header('retry-after', '10');
    if (tbuildError.code === 'TB_SERVICE_UNAUTHENTICATED')
      void reply.header('www-authenticate', 'Bearer realm="tbuild"');
    const config = request.routeOptions.config as RouteConfig | undefined;
    const body =
      config?.docker === true
        ? // Docker clients show `message` alone, so the hint goes into it.
          {
            message:
              tbuildError.hint === undefined
                ? tbuildError.message
                : `${tbuildError.message}; ${tbuildError.hint}`,
          }
        : {
            code: tbuildError.code,
            message: tbuildError.message,
            ...(tbuildError.hint === undefined ? {} : { hint: tbuildError.hint }),
          };
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler(async (request, reply) => {
    const error = new TbuildError(
      'TB_SERVICE_NOT_FOUND',
      `tbuild does not serve ${request.method} ${request.url.split('?')[0] ?? ''}`,
      { hint: 'see docs/service.md for the endpoints' },
    );
    return reply.code(404).send({ code: error.code, message: error.message, hint: error.hint });
  });

  app.get('/healthz', { config: { public: true } }, () => ({ status: 'ok' }));
  app.get('/readyz', { config: { public: true } }, async (_request, reply) =>
    deps.manager.stopping
      ? reply.code(503).send({ status: 'stopping' })
      : reply.send({ status: 'ready' }),
  );
  app.get('/metrics', { config: { scope: 'read' } }, async (_request, reply) => {
    const { contentType, body } = await deps.metrics.text();
    return reply.type(contentType).send(body);
  });
  registerV1Routes(app, deps);
  for (const register of deps.extraRoutes ?? []) register(app);
  await app.ready();
  return app;
}
