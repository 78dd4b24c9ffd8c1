import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TbuildError } from '../../core/index.js';

/** A builder made with `tbuild builder create`: where it is and how to prove who we are. */
export interface NamedBuilder {
  readonly address: string;
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** A file holding the service token (read at each build, never copied here). */
  readonly tokenFile?: string;
}

export interface BuilderStore {
  /** The builder `tbuild builder use` chose; absent means this machine (`local`). */
  readonly current?: string;
  readonly builders: Readonly<Record<string, NamedBuilder>>;
}

/** The name of this machine's own engine, which always exists. */
export const LOCAL_BUILDER = 'local';

/** `$TBUILD_CONFIG_DIR`, else `$XDG_CONFIG_HOME/tbuild`, else `~/.config/tbuild`. */
export function configDir(env: NodeJS.ProcessEnv): string {
  const given = env['TBUILD_CONFIG_DIR'];
  if (given !== undefined && given !== '') return given;
  const xdg = env['XDG_CONFIG_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.config'), 'tbuild');
}

export async function readBuilderStore(dir: string): Promise<BuilderStore> {
  const path = join(dir, 'builders.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { builders: {} };
  }
  try {
    return JSON.parse(text) as BuilderStore;
  } catch (error) {
    throw new TbuildError('TB_USAGE', `${path} is not valid JSON`, {
      hint: 'fix or remove it; tbuild builder create writes it',
      cause: error,
    });
  }
}

export async function writeBuilderStore(dir: string, store: BuilderStore): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'builders.json');
  const temp = `${path}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, `${JSON.stringify(store, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, path);
}

/**
 * This client's random id, made once: with a context's path it names the
 * copy a builder keeps for this client (BuildKit's shared key does the same).
 */
export async function clientId(dir: string): Promise<string> {
  const path = join(dir, 'client-id');
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing !== undefined && /^[0-9a-f]{32}$/.test(existing.trim())) return existing.trim();
  const id = randomBytes(16).toString('hex');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(path, id, { mode: 0o600 });
  return id;
}

/** An address, or the name of a stored builder. */
export function isAddress(text: string): boolean {
  return text.startsWith('tcp://') || text.startsWith('unix://');
}

/**
 * Which builder a build uses: `--builder`, else `$TBUILD_BUILDER`, else the one
 * in use; undefined for this machine's engine.
 */
export async function chooseBuilder(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<NamedBuilder | undefined> {
  const fromEnv = env['TBUILD_BUILDER'];
  const wanted = flag ?? (fromEnv === undefined || fromEnv === '' ? undefined : fromEnv);
  if (wanted !== undefined && isAddress(wanted)) return endpointFromEnv(wanted, env);
  const store = await readBuilderStore(configDir(env));
  const name = wanted ?? store.current;
  if (name === undefined || name === LOCAL_BUILDER) return undefined;
  const builder = store.builders[name];
  if (builder === undefined)
    throw new TbuildError('TB_BUILDER_NOT_FOUND', `no builder named "${name}"`, {
      hint: 'tbuild builder ls lists them; tbuild builder create NAME ADDR makes one',
    });
  return builder;
}

/** A builder given by address: its TLS files and token come from the environment. */
function endpointFromEnv(address: string, env: NodeJS.ProcessEnv): NamedBuilder {
  const value = (name: string): string | undefined => {
    const text = env[name];
    return text === undefined || text === '' ? undefined : text;
  };
  const ca = value('TBUILD_BUILDER_TLS_CA');
  const cert = value('TBUILD_BUILDER_TLS_CERT');
  const key = value('TBUILD_BUILDER_TLS_KEY');
  const tokenFile = value('TBUILD_BUILDER_TOKEN_FILE');
  return {
    address,
    ...(ca === undefined ? {} : { tlsCa: ca }),
    ...(cert === undefined ? {} : { tlsCert: cert }),
    ...(key === undefined ? {} : { tlsKey: key }),
    ...(tokenFile === undefined ? {} : { tokenFile }),
  };
}
