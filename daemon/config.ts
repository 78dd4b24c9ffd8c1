import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { TbuildError } from '../core/index.js';
import { ENTITLEMENTS, type Entitlement } from '../frontend/index.js';
import { parseCacheDefaults, type CacheDefaults } from './builds/cache-defaults.js';
import { parseQueueConfig, type QueueConfig } from './cluster/queue-config.js';
import {
  DEFAULT_LISTEN,
  formatListenAddress,
  isLoopback,
  parseListenAddress,
  type ListenAddress,
} from './listen-address.js';

/** What a token may do: `read` looks, `build` starts and cancels builds, `admin` prunes. */
export type Scope = 'read' | 'build' | 'admin';
const SCOPES: readonly Scope[] = ['read', 'build', 'admin'];

/** A bearer token, stored as the SHA-256 of its text (tokens are random; no slow hash needed). */
export interface TokenEntry {
  readonly name: string;
  readonly sha256: string;
  readonly scopes: readonly Scope[];
}

/** Sizes the service refuses to go beyond, each with a clear error (TB_SERVICE_LIMIT). */
export interface ServiceLimits {
  /** Bytes of a request body (the context tar as sent, maybe gzipped). */
  readonly bodyBytes: number;
  /** Bytes of the context's files once extracted. */
  readonly contextBytes: number;
  /** Entries of the context tar. */
  readonly files: number;
  /** Bytes of one path name in the context. */
  readonly pathBytes: number;
  /** Bytes of a request's headers. */
  readonly headerBytes: number;
}

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  /** With a CA, clients must present a certificate it signed. */
  readonly ca?: string;
}

export interface ServiceConfig {
  readonly listen: readonly ListenAddress[];
  /** Where the remote builder API (gRPC, proto/tbuild/v1) is served; none by default. */
  readonly grpc: readonly ListenAddress[];
  readonly root: string;
  readonly tls?: TlsFiles;
  readonly maxConcurrentBuilds: number;
  readonly maxQueue: number;
  readonly tokens: readonly TokenEntry[];
  /** Entitlements builds may ask for (`--allow`); none unless granted here. */
  readonly entitlements: readonly Entitlement[];
  /** Server-side secret files a build may mount, by id (`secret=id=ID`). */
  readonly secrets: ReadonlyMap<string, string>;
  readonly limits: ServiceLimits;
  /** How long SIGTERM waits for running builds before cancelling them. */
  readonly shutdownGraceSeconds: number;
  /** A queue shared with other nodes in Redis (`--queue`); absent: the embedded queue. */
  readonly queue?: QueueConfig;
  /** `cacheFrom` / `cacheTo`: the remote cache every build imports and exports unless it names its own. */
  readonly cache: CacheDefaults;
}

/** `tbuild serve` flags; each overrides the config file's key of the same meaning. */
export interface ServeFlags {
  readonly listen: readonly string[];
  readonly grpc?: readonly string[];
  readonly root: string;
  readonly config?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsCa?: string;
  readonly maxConcurrentBuilds?: number;
  readonly maxQueue?: number;
  /** `--queue redis://HOST:PORT`: take builds from the queue shared in that Redis. */
  readonly queue?: string;
}

export const DEFAULT_LIMITS: ServiceLimits = {
  bodyBytes: 2 * 1024 ** 3,
  contextBytes: 8 * 1024 ** 3,
  files: 1_000_000,
  pathBytes: 4096,
  headerBytes: 64 * 1024,
};

const FILE_KEYS = [
  'listen',
  'grpc',
  'tls',
  'maxConcurrentBuilds',
  'maxQueue',
  'tokens',
  'entitlements',
  'secrets',
  'limits',
  'shutdownGraceSeconds',
  'queue',
  'cacheFrom',
  'cacheTo',
] as const;

/** The service's configuration: flags over the config file over defaults, checked for safety. */
export function loadServiceConfig(flags: ServeFlags): ServiceConfig {
  const file = flags.config === undefined ? {} : readConfigFile(flags.config);
  const where = flags.config ?? 'the flags';
  const listenTexts =
    flags.listen.length > 0
      ? flags.listen
      : (stringList(file['listen'], where, 'listen') ?? DEFAULT_LISTEN);
  const listen = listenTexts.map((text) =>
    parseListenAddress(text, flags.listen.length > 0 ? '--listen' : where),
  );
  const grpcFlags = flags.grpc ?? [];
  const grpc = (
    grpcFlags.length > 0 ? grpcFlags : (stringList(file['grpc'], where, 'grpc') ?? [])
  ).map((text) => parseListenAddress(text, grpcFlags.length > 0 ? '--grpc' : where));
  const fileTls = objectValue(file['tls'], where, 'tls');
  const tlsCert = flags.tlsCert ?? stringValue(fileTls?.['cert'], where, 'tls.cert');
  const tlsKey = flags.tlsKey ?? stringValue(fileTls?.['key'], where, 'tls.key');
  const tlsCa = flags.tlsCa ?? stringValue(fileTls?.['ca'], where, 'tls.ca');
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw configError('--tls-cert and --tls-key go together', where);
  if (tlsCa !== undefined && tlsCert === undefined)
    throw configError('--tls-ca needs --tls-cert and --tls-key', where);
  const tls: TlsFiles | undefined =
    tlsCert === undefined || tlsKey === undefined
      ? undefined
      : { cert: tlsCert, key: tlsKey, ...(tlsCa === undefined ? {} : { ca: tlsCa }) };
  const tokens = parseTokens(file['tokens'], where);
  for (const address of [...listen, ...grpc]) {
    if (isLoopback(address)) continue;
    const shown = formatListenAddress(address);
    if (tls === undefined)
      throw configError(
        `${shown} is not a loopback address: it needs --tls-cert and --tls-key`,
        where,
      );
    if (tokens.length === 0 && tls.ca === undefined)
      throw configError(
        `${shown} is not a loopback address: it needs tokens in the config file or client certificates (--tls-ca)`,
        where,
      );
  }
  return {
    listen,
    grpc,
    root: flags.root,
    ...(tls === undefined ? {} : { tls }),
    maxConcurrentBuilds:
      flags.maxConcurrentBuilds ??
      positiveInteger(file['maxConcurrentBuilds'], where, 'maxConcurrentBuilds') ??
      availableParallelism(),
    maxQueue: flags.maxQueue ?? positiveInteger(file['maxQueue'], where, 'maxQueue') ?? 100,
    tokens,
    entitlements: parseEntitlements(file['entitlements'], where),
    secrets: new Map(Object.entries(stringRecord(file['secrets'], where, 'secrets') ?? {})),
    limits: parseLimits(file['limits'], where),
    shutdownGraceSeconds:
      positiveInteger(file['shutdownGraceSeconds'], where, 'shutdownGraceSeconds') ?? 60,
    ...queueSetting(parseQueueConfig(file['queue'], flags.queue, where)),
    cache: parseCacheDefaults(
      stringList(file['cacheFrom'], where, 'cacheFrom') ?? [],
      stringList(file['cacheTo'], where, 'cacheTo') ?? [],
      where,
    ),
  };
}

function queueSetting(queue: QueueConfig | undefined): { queue?: QueueConfig } {
  return queue === undefined ? {} : { queue };
}

function readConfigFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new TbuildError('TB_SERVICE_CONFIG', `cannot read the service config file ${path}`, {
      hint: 'it must be a JSON object (docs/config.md)',
      cause: error,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw configError('the config file must hold a JSON object', path);
  const record = parsed as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(FILE_KEYS as readonly string[]).includes(key))
      throw configError(`unknown key "${key}" (known: ${FILE_KEYS.join(', ')})`, path);
  }
  return record;
}

function parseTokens(value: unknown, where: string): TokenEntry[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw configError('"tokens" must be a list', where);
  return value.map((entry: unknown, index) => {
    const token = objectValue(entry, where, `tokens[${String(index)}]`) ?? {};
    const name = stringValue(token['name'], where, `tokens[${String(index)}].name`);
    const sha256 = stringValue(token['sha256'], where, `tokens[${String(index)}].sha256`);
    if (name === undefined || sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256))
      throw configError(
        `tokens[${String(index)}] needs a "name" and a "sha256" of 64 lowercase hex digits`,
        where,
        'store the token as `printf %s TOKEN | sha256sum`, never the token itself',
      );
    const scopes = stringList(token['scopes'], where, `tokens[${String(index)}].scopes`) ?? [
      'read',
      'build',
    ];
    for (const scope of scopes) {
      if (!(SCOPES as readonly string[]).includes(scope))
        throw configError(`unknown scope "${scope}" (use ${SCOPES.join(', ')})`, where);
    }
    return { name, sha256, scopes: scopes as Scope[] };
  });
}

function parseEntitlements(value: unknown, where: string): Entitlement[] {
  const names = stringList(value, where, 'entitlements') ?? [];
  for (const name of names) {
    if (!(ENTITLEMENTS as readonly string[]).includes(name))
      throw configError(`unknown entitlement "${name}" (use ${ENTITLEMENTS.join(', ')})`, where);
  }
  return names as Entitlement[];
}

function parseLimits(value: unknown, where: string): ServiceLimits {
  const limits = objectValue(value, where, 'limits') ?? {};
  const keys = Object.keys(DEFAULT_LIMITS) as (keyof ServiceLimits)[];
  for (const key of Object.keys(limits)) {
    if (!(keys as string[]).includes(key))
      throw configError(`unknown key "limits.${key}" (known: ${keys.join(', ')})`, where);
  }
  const result: Record<string, number> = { ...DEFAULT_LIMITS };
  for (const key of keys) {
    const given = positiveInteger(limits[key], where, `limits.${key}`);
    if (given !== undefined) result[key] = given;
  }
  return result as unknown as ServiceLimits;
}

function objectValue(
  value: unknown,
  where: string,
  key: string,
): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw configError(`"${key}" must be an object`, where);
  return value as Record<string, unknown>;
}

function stringValue(value: unknown, where: string, key: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw configError(`"${key}" must be a non-empty string`, where);
  return value;
}

function stringList(value: unknown, where: string, key: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string'))
    throw configError(`"${key}" must be a list of strings`, where);
  return value;
}

function stringRecord(
  value: unknown,
  where: string,
  key: string,
): Record<string, string> | undefined {
  const record = objectValue(value, where, key);
  if (record === undefined) return undefined;
  for (const [name, item] of Object.entries(record))
    if (typeof item !== 'string') throw configError(`"${key}.${name}" must be a string`, where);
  return record as Record<string, string>;
}

function positiveInteger(value: unknown, where: string, key: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw configError(`"${key}" must be a positive integer`, where);
  return value;
}

function configError(message: string, where: string, hint?: string): TbuildError {
  return new TbuildError('TB_SERVICE_CONFIG', `${where}: ${message}`, {
    hint: hint ?? 'see docs/config.md for the service configuration',
  });
}
