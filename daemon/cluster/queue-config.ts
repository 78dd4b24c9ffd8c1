import { hostname } from 'node:os';
import { TbuildError } from '../../core/index.js';

/** `queue` in the service config: several nodes sharing one queue and records in Redis. */
export interface QueueConfig {
  /** `redis://[:PASSWORD@]HOST:PORT[/DB]` or `rediss://…` (TLS). */
  readonly url: string;
  /** This node's name, unique among the nodes (default: the host name). */
  readonly node: string;
  /** A file whose bytes key the sealing of client secrets (AES-256-GCM); same on every node. */
  readonly secretKeyFile?: string;
  /** How long a node may go silent before its running builds are taken again by others. */
  readonly lockSeconds: number;
  /** How long a build waits for the node that last built it before any node may take it. */
  readonly affinityWaitSeconds: number;
  /** How long records, events, logs and waiting contexts are kept in Redis. */
  readonly recordTtlSeconds: number;
  /** Bytes of a context as stored in Redis for another node (a gzipped tar). */
  readonly contextBytes: number;
}

export const QUEUE_DEFAULTS = {
  lockSeconds: 30,
  affinityWaitSeconds: 5,
  recordTtlSeconds: 7 * 24 * 3600,
  contextBytes: 256 * 1024 * 1024,
} as const;

const KEYS = [
  'url',
  'node',
  'secretKeyFile',
  'lockSeconds',
  'affinityWaitSeconds',
  'recordTtlSeconds',
  'contextBytes',
] as const;

/** A node name goes into Redis keys and queue names: letters, digits, `.`, `_`, `-`. */
export const NODE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The `queue` key of the config file with `--queue URL` over its `url`;
 * undefined (the embedded queue) when neither names a Redis.
 */
export function parseQueueConfig(
  value: unknown,
  flagUrl: string | undefined,
  where: string,
): QueueConfig | undefined {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
    throw queueError('"queue" must be an object', where);
  const file = (value ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(file))
    if (!(KEYS as readonly string[]).includes(key))
      throw queueError(`unknown key "queue.${key}" (known: ${KEYS.join(', ')})`, where);
  const url = flagUrl ?? text(file['url'], 'url', where);
  if (url === undefined) {
    if (value !== undefined) throw queueError('"queue" needs a "url" (or --queue)', where);
    return undefined;
  }
  if (!/^rediss?:\/\/[^/\s]+/.test(url))
    throw queueError(
      `${flagUrl === undefined ? '"queue.url"' : '--queue'} must be redis://HOST:PORT (or rediss:// for TLS), got "${url}"`,
      where,
    );
  const node = text(file['node'], 'node', where) ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-');
  if (!NODE_NAME_PATTERN.test(node))
    throw queueError(
      `"queue.node" must be 1 to 64 letters, digits, ".", "_" or "-", got "${node}"`,
      where,
    );
  const secretKeyFile = text(file['secretKeyFile'], 'secretKeyFile', where);
  return {
    url,
    node,
    ...(secretKeyFile === undefined ? {} : { secretKeyFile }),
    lockSeconds: count(file['lockSeconds'], 'lockSeconds', where) ?? QUEUE_DEFAULTS.lockSeconds,
    affinityWaitSeconds:
      count(file['affinityWaitSeconds'], 'affinityWaitSeconds', where) ??
      QUEUE_DEFAULTS.affinityWaitSeconds,
    recordTtlSeconds:
      count(file['recordTtlSeconds'], 'recordTtlSeconds', where) ?? QUEUE_DEFAULTS.recordTtlSeconds,
    contextBytes: count(file['contextBytes'], 'contextBytes', where) ?? QUEUE_DEFAULTS.contextBytes,
  };
}

function text(value: unknown, key: string, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw queueError(`"queue.${key}" must be a non-empty string`, where);
  return value;
}

function count(value: unknown, key: string, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw queueError(`"queue.${key}" must be a positive integer`, where);
  return value;
}

function queueError(message: string, where: string): TbuildError {
  return new TbuildError('TB_SERVICE_CONFIG', `${where}: ${message}`, {
    hint: 'see docs/config.md, "The build service", for the queue settings',
  });
}
