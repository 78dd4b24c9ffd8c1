import { Redis } from 'ioredis';
import { TbuildError } from '../../core/index.js';

/** How long a node waits for Redis at start before it gives up. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A connection to the Redis at `url` (ioredis). `blocking` connections wait
 * forever on a command (BullMQ's workers need that; it asks for
 * maxRetriesPerRequest null); the others fail a command after a few retries
 * while Redis is away, so an API request answers with an error instead of hanging.
 */
export function redisConnection(url: string, options: { blocking?: boolean } = {}): Redis {
  const redis = new Redis(url, {
    connectionName: 'tbuild',
    maxRetriesPerRequest: options.blocking === true ? null : 3,
  });
  // Errors are reported on the commands that fail; a dropped connection is retried by ioredis.
  redis.on('error', () => undefined);
  return redis;
}

/** Fails with TB_SERVICE_CONFIG when nothing answers at `url` within a few seconds. */
export async function checkRedis(redis: Redis, url: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer in ${String(CONNECT_TIMEOUT_MS / 1000)} s`));
        }, CONNECT_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    throw new TbuildError(
      'TB_SERVICE_CONFIG',
      `cannot reach the queue's Redis at ${shownUrl(url)}`,
      {
        hint: `start redis-server there or fix --queue (${String(error)})`,
        cause: error,
      },
    );
  } finally {
    clearTimeout(timer);
  }
}

/** The URL without its password, for messages and logs. */
export function shownUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}
