import type { Logger } from '../../core/index.js';
import {
  dockerConfigCredentials,
  login,
  logout,
  RegistryClient,
  type RegistryHostConfig,
} from '../../registry-client/index.js';

/**
 * How a build reaches registries, as plain data the CLI or service reads at the edge:
 * docker's config directory (credentials) and per-host transport settings
 * (docs/config.md, `registries`).
 */
export interface RegistrySettings {
  /** The directory holding docker's config.json (`$DOCKER_CONFIG`, else `~/.docker`). */
  readonly dockerConfigDir: string;
  /** Keyed by registry host with port (`myreg:5000`). */
  readonly hosts?: Readonly<Record<string, RegistryHostConfig>>;
  /** Where docker-credential-* helpers live; default PATH. */
  readonly helperDir?: string;
}

export function createRegistryClient(settings: RegistrySettings, logger: Logger): RegistryClient {
  return new RegistryClient({
    credentials: dockerConfigCredentials({
      configDir: settings.dockerConfigDir,
      ...(settings.helperDir === undefined ? {} : { helperDir: settings.helperDir }),
    }),
    ...(settings.hosts === undefined ? {} : { hosts: settings.hosts }),
    logger,
    userAgent: 'tbuild',
  });
}

/** `tbuild login`: checks the credentials with the registry, then stores them like `docker login`. */
export function registryLogin(
  registry: string,
  username: string,
  password: string,
  settings: RegistrySettings,
  options: { readonly signal: AbortSignal; readonly logger: Logger },
): Promise<{ readonly storedIn: string }> {
  return login(registry, username, password, {
    configDir: settings.dockerConfigDir,
    ...(settings.helperDir === undefined ? {} : { helperDir: settings.helperDir }),
    ...(settings.hosts === undefined ? {} : { hosts: settings.hosts }),
    signal: options.signal,
    logger: options.logger,
  });
}

/** `tbuild logout`: false when there were no credentials for the registry. */
export function registryLogout(
  registry: string,
  settings: RegistrySettings,
  signal: AbortSignal,
): Promise<boolean> {
  return logout(registry, {
    configDir: settings.dockerConfigDir,
    ...(settings.helperDir === undefined ? {} : { helperDir: settings.helperDir }),
    signal,
  });
}
