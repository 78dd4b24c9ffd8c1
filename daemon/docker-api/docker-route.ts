import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { Scope } from '../config.js';
import type { RouteConfig } from '../http/app.js';
import { checkApiVersion, VERSION_PREFIX } from './api-version.js';
import { dockerHeaders } from './docker-headers.js';

export type DockerHandler = (request: FastifyRequest, reply: FastifyReply) => unknown;

/**
 * Registers a Docker API route at `path` and at `/v1.NN` + `path`, as Docker
 * serves both; errors are Docker's `{"message": …}` (`docker: true`), the
 * prefix's version is checked, Docker's headers are sent. `scope` is what a
 * token needs, or `public` for a route anyone may call.
 */
export function dockerRoute(
  app: FastifyInstance,
  method: HTTPMethods | HTTPMethods[],
  path: string,
  scope: Scope | 'public' | 'authenticated',
  handler: DockerHandler,
): void {
  const config: RouteConfig =
    scope === 'public'
      ? { public: true, docker: true }
      : scope === 'authenticated'
        ? { docker: true }
        : { scope, docker: true };
  for (const url of [path, `${VERSION_PREFIX}${path}`]) {
    app.route({
      method,
      url,
      config,
      handler: async (request, reply) => {
        checkApiVersion((request.params as { apiVersion?: string }).apiVersion);
        void reply.headers(dockerHeaders());
        return handler(request, reply);
      },
    });
  }
}

/** The request's path without the query, for messages. */
export function requestPath(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? '';
}
