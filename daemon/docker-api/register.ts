import type { FastifyInstance } from 'fastify';
import type { ServiceParts } from '../service.js';
import { registerBuild } from './build-route.js';
import { registerBuildPrune } from './build-prune.js';
import { registerImageActions } from './images-routes.js';
import { registerImageList } from './image-list.js';
import { registerNotServed } from './not-served.js';
import { registerPingVersion } from './ping-version.js';

/** Adds the Docker API routes to the service's app (see daemon/service.ts's extraRoutes). */
export function registerDockerApi(app: FastifyInstance, parts: ServiceParts): void {
  registerPingVersion(app);
  registerBuild(app, parts);
  registerBuildPrune(app, parts);
  registerImageList(app, parts);
  registerImageActions(app, parts);
  registerNotServed(app);
}
