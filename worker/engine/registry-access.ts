import { isTbuildError, TbuildError, type Logger } from '../../core/index.js';
import {
  DOCKER_HUB,
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

/** The `tbuild login` command line for a registry (Docker Hub needs no argument). */
export function loginCommand(registry: string): string {
  return registry === DOCKER_HUB ? 'tbuild login' : `tbuild login ${registry}`;
}

/**
 * A registry failure while resolving `image` (a normalised reference), said in terms of
 * the image a build asked for: a tag or repository the registry does not have is
 * TB_IMAGE_NOT_FOUND, a refusal says how to log in, an unreachable registry is named.
 * Other errors (cancellation, digest mismatches, bad manifests) pass through unchanged.
 */
export function imagePullError(error: unknown, image: string, registry: string): unknown {
  if (!isTbuildError(error)) return error;
  const details = { ...error.details, image, registry };
  switch (error.code) {
    case 'TB_REGISTRY_NOT_FOUND':
      return new TbuildError(
        'TB_IMAGE_NOT_FOUND',
        `image ${image} not found: registry ${registry} has no such repository or tag${registryCodes(error)}`,
        {
          hint: 'check the image name and tag; for a private image, log in first',
          details,
          cause: error,
        },
      );
    case 'TB_REGISTRY_AUTH': {
      const login = `run "${loginCommand(registry)}"`;
      return new TbuildError('TB_REGISTRY_AUTH', `pulling ${image}: ${error.message}`, {
        hint:
          error.hint === undefined || error.hint === `log in to ${registry}`
            ? `${login} (or docker login) if the image is private`
            : `${error.hint}; ${login} to store new credentials`,
        details,
        cause: error,
      });
    }
    case 'TB_REGISTRY_HTTP':
      return new TbuildError('TB_REGISTRY_HTTP', `pulling ${image}: ${error.message}`, {
        hint:
          error.hint ??
          `check that registry ${registry} is running and reachable from this machine`,
        details,
        cause: error,
      });
    default:
      return error;
  }
}

/**
 * A layer download that failed for good (the client's retries ran out): the blob is
 * named by the message; the hint says a new build resumes, since every layer already
 * verified stays in the content store and a partial one is never kept.
 */
export function layerPullError(error: unknown, image: string): unknown {
  if (!isTbuildError(error, 'TB_REGISTRY_HTTP') || error.hint !== undefined) return error;
  return new TbuildError(error.code, error.message, {
    hint: `the registry or the network kept failing while pulling ${image}; run the build again to resume (layers already pulled are kept)`,
    details: { ...error.details, image },
    cause: error,
  });
}

/** ` (MANIFEST_UNKNOWN)`: the codes the registry answered with, when it said any. */
function registryCodes(error: TbuildError): string {
  const codes = error.details?.['registryCodes'];
  if (!Array.isArray(codes) || codes.length === 0) return '';
  return ` (${codes.map(String).join(', ')})`;
}
