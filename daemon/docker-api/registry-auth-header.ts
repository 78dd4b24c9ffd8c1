import { TbuildError, type Logger } from '../../core/index.js';
import { RegistryClient, staticCredentials, type Credential } from '../../registry-client/index.js';
import type { RegistrySettings } from '../../worker/index.js';

/**
 * The `X-Registry-Auth` header of a Docker API push: base64url JSON of
 * `{username, password, auth, serveraddress, identitytoken, registrytoken}`
 * (Docker's AuthConfig). Clients that have no credentials send `{}` or
 * nothing; then undefined. Standard base64 is accepted too (Node decodes both).
 */
export function decodeRegistryAuth(header: string | string[] | undefined): Credential | undefined {
  if (header === undefined || Array.isArray(header) || header.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header.trim(), 'base64').toString('utf8'));
  } catch (error) {
    throw new TbuildError('TB_SERVICE_REQUEST', 'the X-Registry-Auth header is not base64 JSON', {
      hint: 'send base64url of {"username":…,"password":…,"serveraddress":…}',
      cause: error,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new TbuildError('TB_SERVICE_REQUEST', 'the X-Registry-Auth header is not a JSON object');
  const fields = parsed as Record<string, unknown>;
  const text = (name: string): string | undefined => {
    const value = fields[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  let username = text('username');
  let password = text('password');
  const auth = text('auth');
  // `auth` is base64 `user:password`, as in config.json; explicit fields win.
  if (auth !== undefined && (username === undefined || password === undefined)) {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      username ??= decoded.slice(0, colon);
      password ??= decoded.slice(colon + 1);
    }
  }
  const identityToken = text('identitytoken');
  const registryToken = text('registrytoken');
  const credential: Credential = {
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(identityToken === undefined ? {} : { identityToken }),
    ...(registryToken === undefined ? {} : { registryToken }),
  };
  return Object.keys(credential).length === 0 ? undefined : credential;
}

/**
 * A registry client for one push with the caller's credentials for `registry`
 * (and the service's transport settings for hosts); never the service's own
 * credentials, which stay with the engine's client. Close it after the push.
 */
export function clientWithCredential(
  registry: string,
  credential: Credential,
  settings: RegistrySettings | undefined,
  logger: Logger,
): RegistryClient {
  return new RegistryClient({
    credentials: staticCredentials({ [registry]: credential }),
    ...(settings?.hosts === undefined ? {} : { hosts: settings.hosts }),
    logger,
    userAgent: 'tbuild',
  });
}
