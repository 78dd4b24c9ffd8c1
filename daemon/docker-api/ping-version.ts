import { release } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { DOCKER_API_VERSION, DOCKER_MIN_API_VERSION } from './api-version.js';
import { dockerRoute } from './docker-route.js';
import { tbuildVersion } from './tbuild-version.js';

/**
 * `GET|HEAD /_ping` and `GET /version`. The ping is public: clients call it
 * to negotiate the API version (from its `API-Version` header) before anything
 * else, and load balancers to check health; it tells nothing more.
 */
export function registerPingVersion(app: FastifyInstance): void {
  // fastify answers HEAD from the GET route: the same headers, no body.
  dockerRoute(app, 'GET', '/_ping', 'public', async (_request, reply) =>
    reply
      .headers({ 'cache-control': 'no-cache, no-store, must-revalidate', pragma: 'no-cache' })
      .type('text/plain; charset=utf-8')
      .send('OK'),
  );
  dockerRoute(app, 'GET', '/version', 'read', () => {
    const version = tbuildVersion();
    const kernel = release();
    return {
      Platform: { Name: 'tbuild' },
      Components: [
        {
          Name: 'Engine',
          Version: version,
          Details: {
            ApiVersion: DOCKER_API_VERSION,
            MinAPIVersion: DOCKER_MIN_API_VERSION,
            Os: 'linux',
            Arch: 'amd64',
            KernelVersion: kernel,
            GoVersion: `node ${process.version}`,
            // Which builder answers: the docker CLI shows the details as they are.
            Builder: 'tbuild (Docker Engine API subset; see docs/service.md)',
          },
        },
      ],
      Version: version,
      ApiVersion: DOCKER_API_VERSION,
      MinAPIVersion: DOCKER_MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: 'amd64',
      KernelVersion: kernel,
      BuildTime: '',
    };
  });
}
