import { DOCKER_API_VERSION } from './api-version.js';
import { tbuildVersion } from './tbuild-version.js';

/**
 * Headers Docker's daemon sends on its answers: the API version (clients
 * negotiate from `/_ping`'s), the OS, and `Builder-Version: 1`, so a client
 * uses the classic build API (a tar and a JSON stream) rather than opening a
 * BuildKit session, which tbuild does not serve.
 */
export function dockerHeaders(): Record<string, string> {
  return {
    'api-version': DOCKER_API_VERSION,
    'docker-experimental': 'false',
    ostype: 'linux',
    'builder-version': '1',
    server: `tbuild/${tbuildVersion()} (linux)`,
  };
}
