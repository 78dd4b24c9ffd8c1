import type { FastifyInstance } from 'fastify';
import { noopLogger, TbuildError } from '../../core/index.js';
import { DOCKER_HUB, parseReference } from '../../registry-client/index.js';
import type { ServiceParts } from '../service.js';
import { dockerRoute } from './docker-route.js';
import { clientWithCredential, decodeRegistryAuth } from './registry-auth-header.js';

/**
 * `POST /auth` (`docker login` asks the daemon): checks the credentials in
 * the body (Docker's AuthConfig) against the registry, as Docker does, and
 * stores nothing: the docker CLI keeps them in its own config.json and sends
 * them with each push (X-Registry-Auth).
 */
export function registerRegistryLogin(app: FastifyInstance, parts: ServiceParts): void {
  dockerRoute(app, 'POST', '/auth', 'build', async (request) => {
    const body: unknown = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new TbuildError('TB_SERVICE_REQUEST', 'POST /auth needs a JSON object', {
        hint: 'send {"username":…,"password":…,"serveraddress":…}',
      });
    const fields = body as Record<string, unknown>;
    // The same fields as the push header; decoded by the same code.
    const credential = decodeRegistryAuth(Buffer.from(JSON.stringify(fields)).toString('base64'));
    if (credential === undefined)
      throw new TbuildError('TB_SERVICE_REQUEST', 'POST /auth needs a username and password');
    const registry = registryHost(fields['serveraddress']);
    const client = clientWithCredential(registry, credential, parts.registry, noopLogger);
    try {
      await client.checkCredentials(registry, AbortSignal.timeout(60_000));
    } finally {
      client.close();
    }
    return { Status: 'Login Succeeded', IdentityToken: '' };
  });
}

/** `https://index.docker.io/v1/`, `reg.example:5000`, `https://reg.example/` → the registry host. */
function registryHost(serverAddress: unknown): string {
  if (typeof serverAddress !== 'string' || serverAddress === '') return DOCKER_HUB;
  const host = serverAddress.replace(/^[a-z]+:\/\//i, '').split('/')[0] ?? '';
  try {
    return parseReference(`${host}/login-check`).registry;
  } catch (error) {
    throw new TbuildError(
      'TB_SERVICE_REQUEST',
      `serveraddress "${serverAddress}" is not a registry`,
      {
        cause: error,
      },
    );
  }
}
