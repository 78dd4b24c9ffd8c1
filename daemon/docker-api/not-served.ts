import type { FastifyInstance, FastifyRequest, HTTPMethods } from 'fastify';
import { TbuildError } from '../../core/index.js';
import { dockerRoute, requestPath } from './docker-route.js';

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

/**
 * The Docker API's top-level resources outside tbuild's subset. A client that
 * calls one (a `docker run`, a BuildKit session) gets a Docker-style error
 * saying so, rather than the native API's not-found.
 */
const DOCKER_RESOURCES = [
  'containers',
  'exec',
  'networks',
  'volumes',
  'swarm',
  'services',
  'tasks',
  'secrets',
  'configs',
  'plugins',
  'nodes',
  'system',
  'info',
  'events',
  'auth',
  'session',
  'grpc',
  'distribution',
  'commit',
];

/** What a client learns when it asks for something tbuild does not serve, by resource. */
const HINTS: Readonly<Record<string, string>> = {
  session:
    'BuildKit sessions are not served: set DOCKER_BUILDKIT=0 so the client uses the classic build API',
  grpc: 'BuildKit is not served over the Docker API: set DOCKER_BUILDKIT=0',
};

/**
 * Docker-style 501s for the rest of the Docker API: every `/v1.NN/...` path
 * no route of the subset took, each resource above without a prefix, and the
 * parts of `/images` and `/build` outside the subset.
 */
export function registerNotServed(app: FastifyInstance): void {
  for (const resource of DOCKER_RESOURCES) {
    // POST /auth is served (registry-login.ts).
    const methods = resource === 'auth' ? METHODS.filter((method) => method !== 'POST') : METHODS;
    dockerRoute(app, methods, `/${resource}`, 'authenticated', (request) => {
      throw notServed(request, resource);
    });
    dockerRoute(app, METHODS, `/${resource}/*`, 'authenticated', (request) => {
      throw notServed(request, resource);
    });
  }
  // The prefixed catch-all; the subset's own prefixed routes are more specific and win.
  app.route({
    method: METHODS,
    url: '/v:apiVersion(^\\d+\\.\\d+$)/*',
    config: { docker: true },
    handler: (request) => {
      throw notServed(request, (request.params as { '*': string })['*'].split('/')[0] ?? '');
    },
  });
  for (const path of ['/images/*', '/build/*']) {
    // POST (and GET of /images/…) are images-routes.ts's, which answer what they do not serve.
    const served = path === '/images/*' ? ['POST', 'GET', 'HEAD'] : ['POST'];
    dockerRoute(
      app,
      METHODS.filter((method) => !served.includes(method)),
      path,
      'authenticated',
      (request) => {
        throw notServed(request, path.split('/')[1] ?? '');
      },
    );
  }
}

/** `tbuild does not serve GET /containers/json: …`, status 501. */
export function notServed(request: FastifyRequest, resource: string): TbuildError {
  return new TbuildError(
    'TB_UNSUPPORTED',
    `tbuild does not serve ${request.method} ${requestPath(request)}: it serves only the Docker API's build, image list and inspect, tag, push and login (see docs/service.md)`,
    {
      hint:
        HINTS[resource] ?? 'tbuild builds images; run containers with a container engine elsewhere',
    },
  );
}
