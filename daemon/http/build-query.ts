import { readFile } from 'node:fs/promises';
import { closestMatch, TbuildError } from '../../core/index.js';
import { parseBuildOptions, type BuildOptions, type OptionValues } from '../../builder/index.js';
import type { ServiceConfig } from '../config.js';

/** Query parameters of `POST /v1/builds`, named like `tbuild build`'s flags. */
const LIST_PARAMS = [
  'tag',
  'build-arg',
  'build-context',
  'label',
  'output',
  'secret',
  'allow',
  'add-host',
  'ulimit',
  'annotation',
  'cache-to',
  'cache-from',
];
const STRING_PARAMS = ['dockerfile', 'target', 'platform', 'network', 'shm-size'];
const BOOLEAN_PARAMS = ['no-cache', 'pull', 'push'];
const KNOWN = [...LIST_PARAMS, ...STRING_PARAMS, ...BOOLEAN_PARAMS];

export type Query = Readonly<Record<string, string | readonly string[] | undefined>>;

/** A build asked for over HTTP, checked against what this service allows. */
export interface QueriedBuild {
  readonly options: BuildOptions;
  readonly dockerfile?: string;
  readonly secrets: ReadonlyMap<string, () => Promise<Uint8Array>>;
  readonly shown: Readonly<Record<string, string | readonly string[]>>;
}

export function parseBuildQuery(query: Query, config: ServiceConfig): QueriedBuild {
  for (const name of Object.keys(query)) {
    if (KNOWN.includes(name)) continue;
    const closest = closestMatch(name, KNOWN);
    throw new TbuildError(
      'TB_SERVICE_REQUEST',
      `unknown build option "${name}"${closest === undefined ? '' : ` (did you mean ${closest}?)`}`,
      { hint: `known options: ${KNOWN.join(', ')}` },
    );
  }
  const values = queryValues(query);
  // The service's own environment is not the caller's: `build-arg NAME` without a value is empty.
  const options = parseBuildOptions(values, {});
  checkOutputs(options);
  checkCaches(options);
  checkBuildContexts(options);
  checkEntitlements(options, config);
  const dockerfile = values.string('dockerfile');
  const shown: Record<string, string | readonly string[]> = {};
  for (const [name, value] of Object.entries(query)) if (value !== undefined) shown[name] = value;
  return {
    options,
    ...(dockerfile === undefined ? {} : { dockerfile: contextPath(dockerfile) }),
    secrets: serverSecrets(options, config),
    shown,
  };
}

/** Reads query values as the CLI reads its flags: lists repeat, booleans are true/false/1/0/empty. */
export function queryValues(query: Query): OptionValues {
  const all = (name: string): readonly string[] => {
    const value = query[name];
    return value === undefined ? [] : typeof value === 'string' ? [value] : value;
  };
  return {
    list: all,
    string: (name) => {
      const values = all(name);
      if (values.length > 1)
        throw new TbuildError('TB_SERVICE_REQUEST', `option "${name}" was given more than once`);
      return values[0];
    },
    boolean: (name) => {
      const value = all(name).at(-1);
      if (value === undefined) return undefined;
      if (value === '' || value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      throw new TbuildError(
        'TB_SERVICE_REQUEST',
        `option "${name}" must be true or false, got "${value}"`,
      );
    },
  };
}

/**
 * The service keeps results in its image store or pushes them; it never writes
 * to paths of its own filesystem that a client names (`type=local,dest=/etc`).
 */
function checkOutputs(options: BuildOptions): void {
  for (const output of options.outputs) {
    if (output.type !== 'image')
      throw new TbuildError(
        'TB_SERVICE_REQUEST',
        `output type=${output.type} writes to the service's own filesystem, which a request may not`,
        {
          hint: 'use type=image (stored, or push=true to a registry); the CLI with --builder streams other outputs back',
        },
      );
  }
}

/**
 * A registry or inline cache only: `type=local` would read or write a
 * directory of the service's own filesystem that the caller names.
 */
export function checkCaches(options: BuildOptions): void {
  const local = [
    ...(options.cacheTo ?? []).filter((spec) => spec.type === 'local').map(() => 'cache-to'),
    ...(options.cacheFrom ?? []).filter((spec) => spec.type === 'local').map(() => 'cache-from'),
  ];
  const first = local[0];
  if (first !== undefined)
    throw new TbuildError(
      'TB_SERVICE_REQUEST',
      `${first} type=local names a directory of the service's own filesystem, which a request may not`,
      { hint: `use a registry cache (${first}=type=registry,ref=REF)` },
    );
}

export function checkEntitlements(options: BuildOptions, config: ServiceConfig): void {
  const wanted = new Set(options.allow);
  if (options.network === 'host') wanted.add('network.host');
  for (const entitlement of wanted) {
    if (!config.entitlements.includes(entitlement))
      throw new TbuildError(
        'TB_SERVICE_FORBIDDEN',
        `this service does not grant the ${entitlement} entitlement`,
        { hint: 'the service operator grants entitlements in the config file (docs/config.md)' },
      );
  }
}

/** `secret=id=ID` mounts the server-side file the config names for ID; nothing else is read. */
function serverSecrets(
  options: BuildOptions,
  config: ServiceConfig,
): Map<string, () => Promise<Uint8Array>> {
  const readers = new Map<string, () => Promise<Uint8Array>>();
  for (const secret of options.secrets) {
    const path = config.secrets.get(secret.id);
    const named = secret.source.type === 'file' || secret.source.name !== secret.id;
    if (path === undefined || named)
      throw new TbuildError(
        'TB_SERVICE_REQUEST',
        `secret "${secret.id}" is not one this service provides`,
        {
          hint: `ask for a secret by id only (secret=id=${secret.id}); the service operator maps ids to files in the config`,
        },
      );
    readers.set(secret.id, () => readFile(path));
  }
  return readers;
}

/** A path inside the context (the Dockerfile's): relative, without `..`. */
function contextPath(path: string): string {
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (path.startsWith('/') || parts.includes('..') || parts.length === 0)
    throw new TbuildError(
      'TB_SERVICE_REQUEST',
      `dockerfile "${path}" must be a path inside the context`,
    );
  return parts.join('/');
}

/** A directory or OCI layout named by a caller would be a path of this server: refused. */
export function checkBuildContexts(options: BuildOptions): void {
  for (const spec of options.buildContexts ?? []) {
    if (spec.kind !== 'dir' && spec.kind !== 'oci-layout') continue;
    throw new TbuildError(
      'TB_SERVICE_REQUEST',
      `build-context "${spec.name}": a ${spec.kind === 'dir' ? 'local directory' : 'oci-layout://'} context names a path on the server, which the service does not read`,
      { hint: 'use docker-image://REF, or a git or https URL' },
    );
  }
}
