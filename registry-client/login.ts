import { type Logger, noopLogger } from '../core/index.js';
import { RegistryClient, type RegistryHostConfig } from './client.js';
import {
  type DockerConfigOptions,
  eraseCredentials,
  staticCredentials,
  storeCredentials,
} from './docker-config.js';

/** `tbuild login` / `tbuild logout`: check the credentials against the registry, then write config.json like docker. */

export interface LoginOptions extends DockerConfigOptions {
  readonly signal: AbortSignal;
  readonly hosts?: Readonly<Record<string, RegistryHostConfig>>;
  readonly logger?: Logger;
}

export async function login(
  registry: string,
  username: string,
  password: string,
  options: LoginOptions,
): Promise<{ readonly storedIn: string }> {
  const client = new RegistryClient({
    credentials: staticCredentials({ [registry]: { username, password } }),
    ...(options.hosts === undefined ? {} : { hosts: options.hosts }),
    logger: options.logger ?? noopLogger,
    retry: { attempts: 2 },
  });
  try {
    await client.checkCredentials(registry, options.signal);
  } finally {
    client.close();
  }
  return storeCredentials(registry, username, password, options);
}

export function logout(
  registry: string,
  options: DockerConfigOptions & { readonly signal: AbortSignal },
): Promise<boolean> {
  return eraseCredentials(registry, options);
}
