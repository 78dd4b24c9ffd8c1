import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TbuildError } from '../core/index.js';
import type { RegistrySettings } from '../worker/index.js';

type Env = Readonly<Record<string, string | undefined>>;

interface HostSettings {
  insecure?: boolean;
  http?: boolean;
}

/**
 * Registry settings read once at the edge: docker's config directory for credentials
 * (`$DOCKER_CONFIG`, else `~/.docker`, as docker reads it) and the `registries` section of
 * tbuild's config file (`$TBUILD_CONFIG`, else `$XDG_CONFIG_HOME/tbuild/config.json`), see
 * docs/config.md.
 */
export function registrySettings(env: Env): RegistrySettings {
  const dockerConfig = env['DOCKER_CONFIG'];
  const dockerConfigDir =
    dockerConfig !== undefined && dockerConfig !== ''
      ? dockerConfig
      : join(env['HOME'] ?? homedir(), '.docker');
  const hosts = registryHosts(env);
  return { dockerConfigDir, ...(hosts === undefined ? {} : { hosts }) };
}

function configFile(env: Env): string | undefined {
  const explicit = env['TBUILD_CONFIG'];
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = env['XDG_CONFIG_HOME'];
  const file = join(
    xdg !== undefined && xdg !== '' ? xdg : join(env['HOME'] ?? homedir(), '.config'),
    'tbuild',
    'config.json',
  );
  return existsSync(file) ? file : undefined;
}

function registryHosts(env: Env): Record<string, HostSettings> | undefined {
  const file = configFile(env);
  if (file === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new TbuildError('TB_USAGE', `cannot read the tbuild config file ${file}`, {
      hint: 'it must be a JSON object (docs/config.md)',
      cause: error,
    });
  }
  const registries = (parsed as { registries?: unknown } | null)?.registries;
  if (registries === undefined) return undefined;
  if (typeof registries !== 'object' || registries === null || Array.isArray(registries))
    throw new TbuildError('TB_USAGE', `${file}: "registries" must be an object of hosts`);
  const hosts: Record<string, HostSettings> = {};
  for (const [host, value] of Object.entries(registries as Record<string, unknown>)) {
    const entry = (typeof value === 'object' && value !== null ? value : {}) as Record<
      string,
      unknown
    >;
    hosts[host] = {
      ...(entry['insecure'] === true ? { insecure: true } : {}),
      ...(entry['http'] === true ? { http: true } : {}),
    };
  }
  return hosts;
}
