import type { FastifyInstance } from 'fastify';
import type { RouteConfig } from '../http/app.js';
import type { ServiceParts } from '../service.js';
import { registerBuild } from './build-route.js';
import { registerBuildPrune } from './build-prune.js';
import { registerImageActions } from './images-routes.js';
import { registerImageList } from './image-list.js';
import { registerNotServed } from './not-served.js';
import { registerPingVersion } from './ping-version.js';
import { registerRegistryLogin } from './registry-login.js';

/** Adds the Docker API routes to the service's app (see daemon/service.ts's extraRoutes). */
export function registerDockerApi(app: FastifyInstance, parts: ServiceParts): void {
  // Docker clients read an error's `message` only when the type is exactly
  // application/json; fastify adds `; charset=utf-8` when it serializes.
  app.addHook('onSend', async (request, reply, payload) => {
    const config = request.routeOptions.config as RouteConfig | undefined;
    const type = reply.getHeader('content-type');
    if (config?.docker === true && typeof type === 'string' && type.startsWith('application/json'))
      void reply.header('content-type', 'application/json');
    return payload;
  });
  registerPingVersion(app);
  registerBuild(app, parts);
  registerBuildPrune(app, parts);
  registerImageList(app, parts);
  registerImageActions(app, parts);
  registerRegistryLogin(app, parts);
  registerNotServed(app);
}
