import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Lua script run atomically in Redis: by its SHA-1 (EVALSHA), loaded with
 * EVAL the first time a server does not know it (a new or restarted Redis).
 */
export class LuaScript {
  readonly #source: string;
  readonly #sha: string;
  /** How many of a call's arguments are keys (Redis needs to know). */
  readonly #keys: number;

  constructor(keys: number, source: string) {
    this.#keys = keys;
    this.#source = source;
    this.#sha = createHash('sha1').update(source).digest('hex');
  }

  async run(
    redis: Redis,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await redis.evalsha(this.#sha, this.#keys, ...keys, ...args);
    } catch (error) {
      if (!String(error).includes('NOSCRIPT')) throw error;
      return redis.eval(this.#source, this.#keys, ...keys, ...args);
    }
  }
}
