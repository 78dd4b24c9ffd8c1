import { TbuildError } from '../../core/index.js';

/**
 * The Docker Engine API version whose request and answer shapes this subset
 * follows (Docker 20.10). Clients negotiate down to it from `/_ping`'s
 * `API-Version` header; newer clients (API 1.44 and later) still speak it.
 */
export const DOCKER_API_VERSION = '1.41';
/** The oldest version asked in a `/v1.NN/` prefix that is answered, as Docker's own minimum. */
export const DOCKER_MIN_API_VERSION = '1.12';

/** The route pattern of a `/v1.NN` prefix (find-my-way: a parameter with a regular expression). */
export const VERSION_PREFIX = '/v:apiVersion(^\\d+\\.\\d+$)';

/**
 * Refuses a `/v1.NN/` prefix this subset does not speak, in Docker's words
 * (the client then knows to negotiate): too new or too old.
 */
export function checkApiVersion(asked: string | undefined): void {
  if (asked === undefined) return;
  if (compareVersions(asked, DOCKER_API_VERSION) > 0)
    throw new TbuildError(
      'TB_SERVICE_REQUEST',
      `client version ${asked} is too new. Maximum supported API version is ${DOCKER_API_VERSION}`,
      { hint: 'let the client negotiate the version (unset DOCKER_API_VERSION)' },
    );
  if (compareVersions(asked, DOCKER_MIN_API_VERSION) < 0)
    throw new TbuildError(
      'TB_SERVICE_REQUEST',
      `client version ${asked} is too old. Minimum supported API version is ${DOCKER_MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
}

function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}
