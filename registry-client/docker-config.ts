import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TbuildError } from '../core/index.js';
import { helperErase, helperGet, helperStore } from './credential-helper.js';
import { DOCKER_HUB } from './reference.js';

/**
 * Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
 * `auths` (base64 `auth`, or `username`/`password`, `identitytoken`, `registrytoken`),
 * `credsStore` for every registry and `credHelpers` per registry (per-registry wins).
 */

export interface Credential {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth2 refresh token (Docker Desktop, ACR): exchanged at the token endpoint. */
  readonly identityToken?: string;
  /** A bearer token sent as is. */
  readonly registryToken?: string;
}

/** Credentials and where they came from (for messages: "from credHelpers (ecr-login)"). */
export interface FoundCredential {
  readonly credential: Credential | undefined;
  readonly source: string;
}

/** Finds credentials for a registry host. Implementations must never log the secrets. */
export interface CredentialStore {
  get(registry: string, signal: AbortSignal): Promise<FoundCredential>;
}

export const anonymousCredentials: CredentialStore = {
  get: () => Promise.resolve({ credential: undefined, source: 'anonymous' }),
};

/** Fixed credentials per registry host, for callers that got them elsewhere (flags, secrets). */
export function staticCredentials(
  byRegistry: Readonly<Record<string, Credential>>,
): CredentialStore {
  return {
    get: (registry) =>
      Promise.resolve({ credential: byRegistry[registry], source: 'static credentials' }),
  };
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  [key: string]: unknown;
}

interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

/** The key docker uses for a registry: Docker Hub keeps its historical v1 URL. */
export function configKey(registry: string): string {
  return registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
}

/** The config directory from the environment the caller read (cli/daemon own process.env). */
export function dockerConfigDir(env: {
  readonly DOCKER_CONFIG?: string | undefined;
  readonly HOME?: string | undefined;
}): string {
  if (env.DOCKER_CONFIG !== undefined && env.DOCKER_CONFIG !== '') return env.DOCKER_CONFIG;
  return path.join(env.HOME ?? '/root', '.docker');
}

async function readConfig(file: string): Promise<DockerConfigFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return {};
    throw new TbuildError(
      'TB_REGISTRY_CREDENTIALS',
      `cannot read ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new SyntaxError('not an object');
    return parsed as DockerConfigFile;
  } catch (error) {
    throw new TbuildError('TB_REGISTRY_CREDENTIALS', `${file} is not valid JSON`, {
      hint: 'fix or remove the file; `tbuild login` rewrites it',
      cause: error,
    });
  }
}

/** Strips scheme and path, so legacy keys like `https://host/v1/` match `host`. */
function normaliseKey(key: string): string {
  const withoutScheme = key.replace(/^[a-z]+:\/\//i, '');
  const host = withoutScheme.split('/')[0] ?? '';
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}

function findAuthEntry(auths: Record<string, AuthEntry>, registry: string): AuthEntry | undefined {
  const exact = auths[configKey(registry)] ?? auths[registry];
  if (exact !== undefined) return exact;
  for (const [key, entry] of Object.entries(auths)) {
    if (normaliseKey(key) === registry) return entry;
  }
  return undefined;
}

function entryCredential(entry: AuthEntry, file: string): Credential | undefined {
  let username = typeof entry.username === 'string' ? entry.username : undefined;
  let password = typeof entry.password === 'string' ? entry.password : undefined;
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8').replace(/\0+$/, '');
    const colon = decoded.indexOf(':');
    if (colon === -1) {
      throw new TbuildError(
        'TB_REGISTRY_CREDENTIALS',
        `an "auth" entry in ${file} is not base64 of "user:password"`,
      );
    }
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const credential: Credential = {
    ...(username === undefined || username === '' ? {} : { username }),
    ...(password === undefined || password === '' ? {} : { password }),
    ...(typeof entry.identitytoken === 'string' && entry.identitytoken !== ''
      ? { identityToken: entry.identitytoken }
      : {}),
    ...(typeof entry.registrytoken === 'string' && entry.registrytoken !== ''
      ? { registryToken: entry.registrytoken }
      : {}),
  };
  return Object.keys(credential).length === 0 ? undefined : credential;
}

function helperFor(config: DockerConfigFile, registry: string): string | undefined {
  const helpers = config.credHelpers ?? {};
  const named = helpers[registry] ?? helpers[configKey(registry)];
  if (typeof named === 'string' && named !== '') return named;
  return typeof config.credsStore === 'string' && config.credsStore !== ''
    ? config.credsStore
    : undefined;
}

export interface DockerConfigOptions {
  /** The directory holding config.json; see {@link dockerConfigDir}. */
  readonly configDir: string;
  /** Where docker-credential-* helpers live; default PATH. */
  readonly helperDir?: string;
}

/** Credentials from docker's config.json, with credential helpers. Read on every call: `login` may change it. */
export function dockerConfigCredentials(options: DockerConfigOptions): CredentialStore {
  const file = path.join(options.configDir, 'config.json');
  return {
    async get(registry, signal) {
      const config = await readConfig(file);
      const helper = helperFor(config, registry);
      if (helper !== undefined) {
        const found = await helperGet(helper, configKey(registry), {
          signal,
          ...(options.helperDir === undefined ? {} : { helperDir: options.helperDir }),
        });
        if (found !== undefined) {
          const credential: Credential =
            found.Username === '<token>'
              ? { identityToken: found.Secret }
              : { username: found.Username, password: found.Secret };
          return { credential, source: `credential helper docker-credential-${helper}` };
        }
      }
      const entry = findAuthEntry(config.auths ?? {}, registry);
      const credential = entry === undefined ? undefined : entryCredential(entry, file);
      return credential === undefined
        ? { credential: undefined, source: 'anonymous (no credentials in config.json)' }
        : { credential, source: file };
    },
  };
}

async function writeConfig(file: string, config: DockerConfigFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600 });
  await rename(temp, file);
}

/**
 * Stores credentials like `docker login`: in the credential helper when one applies,
 * else base64 in `auths`. Other fields of the file are kept. Does not check them against
 * the registry: {@link RegistryClient.checkCredentials} does.
 */
export async function storeCredentials(
  registry: string,
  username: string,
  password: string,
  options: DockerConfigOptions & { readonly signal: AbortSignal },
): Promise<{ readonly storedIn: string }> {
  const file = path.join(options.configDir, 'config.json');
  const config = await readConfig(file);
  const key = configKey(registry);
  const helper = helperFor(config, registry);
  const auths = { ...(config.auths ?? {}) };
  if (helper !== undefined) {
    await helperStore(
      helper,
      { ServerURL: key, Username: username, Secret: password },
      {
        signal: options.signal,
        ...(options.helperDir === undefined ? {} : { helperDir: options.helperDir }),
      },
    );
    auths[key] = {}; // docker leaves an empty entry so `docker info` lists the registry
    await writeConfig(file, { ...config, auths });
    return { storedIn: `docker-credential-${helper}` };
  }
  auths[key] = { auth: Buffer.from(`${username}:${password}`, 'utf8').toString('base64') };
  await writeConfig(file, { ...config, auths });
  return { storedIn: file };
}

/** Removes stored credentials like `docker logout`. Returns false when there were none. */
export async function eraseCredentials(
  registry: string,
  options: DockerConfigOptions & { readonly signal: AbortSignal },
): Promise<boolean> {
  const file = path.join(options.configDir, 'config.json');
  const config = await readConfig(file);
  const key = configKey(registry);
  const helper = helperFor(config, registry);
  if (helper !== undefined) {
    await helperErase(helper, key, {
      signal: options.signal,
      ...(options.helperDir === undefined ? {} : { helperDir: options.helperDir }),
    });
  }
  const entries = Object.entries(config.auths ?? {});
  const kept = entries.filter(([k]) => k !== key && normaliseKey(k) !== registry);
  const removed = entries.length - kept.length;
  if (removed > 0) await writeConfig(file, { ...config, auths: Object.fromEntries(kept) });
  return removed > 0 || helper !== undefined;
}
