import type { FastifyInstance } from 'fastify';
import type { ServiceParts } from '../service.js';
import { dockerRoute } from './docker-route.js';
import { inspectImage } from './image-inspect.js';
import { pushImage } from './image-push.js';
import { tagImage } from './image-tag.js';
import { notServed } from './not-served.js';

/**
 * `POST /images/{name}/tag`, `POST /images/{name}/push` and
 * `GET /images/{name}/json`. A name holds slashes and a registry's port
 * (`127.0.0.1:5000/team/app`), so one wildcard route per method takes every
 * `/images/...` and the last segment says which.
 */
export function registerImageActions(app: FastifyInstance, parts: ServiceParts): void {
  dockerRoute(app, 'POST', '/images/*', 'build', async (request, reply) => {
    const rest = (request.params as { '*': string })['*'];
    const slash = rest.lastIndexOf('/');
    // fastify hands the wildcard over decoded (`a%2Fb` is `a/b`).
    const name = rest.slice(0, slash);
    const action = rest.slice(slash + 1);
    if (slash > 0 && action === 'tag') return tagImage(request, reply, parts, name);
    if (slash > 0 && action === 'push') return pushImage(request, reply, parts, name);
    throw notServed(request, 'images');
  });
  // `/images/json` (the list) is a static route and wins over this one.
  dockerRoute(app, 'GET', '/images/*', 'read', async (request) => {
    const rest = (request.params as { '*': string })['*'];
    const slash = rest.lastIndexOf('/');
    if (slash > 0 && rest.slice(slash + 1) === 'json')
      return inspectImage(parts, rest.slice(0, slash));
    throw notServed(request, 'images');
  });
}
