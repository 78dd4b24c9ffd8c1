/**
 * Every Redis key and queue name the nodes share, in one place (docs/service.md
 * lists them). Builds are found by id; ids sort by creation time.
 */
export const KEY_PREFIX = 'tbuild';

/** BullMQ's prefix: its keys are `tbuild:<queue>:…`. */
export const BULL_PREFIX = KEY_PREFIX;

/** The queue any node takes builds from. */
export const SHARED_QUEUE = 'builds';

/** A node's own queue: builds routed to it (affinity) or tied to it (secrets, a client's stream). */
export function nodeQueue(node: string): string {
  return `node.${node}`;
}

export const buildKeys = (id: string) => ({
  /** HASH: record (JSON), attempt, final, node, runner, cancel. */
  build: `${KEY_PREFIX}:build:${id}`,
  /** STREAM: the status lines, entry ids `<n>-0` (n = the SSE id), then an `end` entry. */
  events: `${KEY_PREFIX}:build:${id}:events`,
  /** STRING: the plain log, appended. */
  log: `${KEY_PREFIX}:build:${id}:log`,
  /** STRING: the context as a gzipped tar, until the build ends. */
  context: `${KEY_PREFIX}:build:${id}:context`,
});

/** ZSET of every build id (score 0, ordered by id): the list's index. */
export const BUILD_INDEX = `${KEY_PREFIX}:builds`;

/** SET of node names that ever joined (pruned when gone and their queue is empty). */
export const NODES = `${KEY_PREFIX}:nodes`;

/** STRING with a TTL: present while the node is alive. */
export function heartbeatKey(node: string): string {
  return `${KEY_PREFIX}:node:${node}`;
}

/** STRING: the node that last built this context shape and Dockerfile. */
export function affinityKey(digest: string): string {
  return `${KEY_PREFIX}:affinity:${digest}`;
}

/** Pub/sub channel: a build id to cancel, heard by the node running it. */
export const CANCEL_CHANNEL = `${KEY_PREFIX}:cancel`;
