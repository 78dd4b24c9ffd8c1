import type { Redis } from 'ioredis';
import type { Logger } from '../../core/index.js';
import { heartbeatKey, NODES } from './cluster-keys.js';

/** How often a node says it is alive, and how long that holds without another word. */
export const HEARTBEAT_MS = 2_000;
export const HEARTBEAT_TTL_MS = 10_000;

/**
 * A node's heartbeat in Redis (a key with a TTL, renewed every HEARTBEAT_MS)
 * and its name in the set of nodes. A node whose key expired is gone: nothing
 * is routed to it, and another node takes its queue over (cluster-builds.ts).
 */
export class NodePresence {
  readonly #redis: Redis;
  readonly #node: string;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;

  constructor(redis: Redis, node: string, logger: Logger) {
    this.#redis = redis;
    this.#node = node;
    this.#logger = logger;
  }

  async start(): Promise<void> {
    await this.#beat();
    await this.#redis.sadd(NODES, this.#node);
    this.#timer = setInterval(() => {
      this.#beat().catch((error: unknown) => {
        this.#logger.warn('cannot renew the node heartbeat', { error: String(error) });
      });
    }, HEARTBEAT_MS);
    this.#timer.unref();
  }

  /** Says this node is gone at once (a clean stop), so others need not wait for the TTL. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#redis.del(heartbeatKey(this.#node)).catch(() => undefined);
  }

  async alive(node: string): Promise<boolean> {
    return (await this.#redis.exists(heartbeatKey(node))) === 1;
  }

  async nodes(): Promise<string[]> {
    return this.#redis.smembers(NODES);
  }

  async forget(node: string): Promise<void> {
    await this.#redis.srem(NODES, node);
  }

  async #beat(): Promise<void> {
    await this.#redis.set(
      heartbeatKey(this.#node),
      JSON.stringify({ pid: process.pid, at: new Date().toISOString() }),
      'PX',
      HEARTBEAT_TTL_MS,
    );
  }
}
