import type { Redis } from 'ioredis';

/** One entry of a build's event stream: a status line (with its event), or the end. */
export interface StreamEntry {
  /** The status's number (the SSE id); the end's is one past the last status. */
  readonly n: number;
  /** The status line as `--progress=rawjson` prints it. */
  readonly line?: string;
  /** The progress event it came from, as JSON (progress-json.ts). */
  readonly event?: string;
  /** On the last entry: `{"status", "error"?}`. */
  readonly end?: string;
}

/** How long one XREAD waits before asking again (also how soon a stopped follower lets go). */
const BLOCK_MS = 5_000;
const BATCH = 500;

/**
 * Reads a build's event stream from entry `after + 1` on, then follows it
 * live (XREAD BLOCK on a connection of its own, as a blocked read holds its
 * connection) until the `end` entry or `stop()`. Entry ids are `<n>-0`, so
 * Last-Event-ID N resumes at `N-0` on any node.
 */
export function followStream(
  redis: Redis,
  key: string,
  after: number,
  onEntry: (entry: StreamEntry) => void,
  onFailure: (error: unknown) => void = () => undefined,
): () => void {
  const connection = redis.duplicate();
  connection.on('error', () => undefined);
  // An object, not a let: TypeScript does not see the callbacks change a local.
  const state = { stopped: false };
  const stop = (): void => {
    if (state.stopped) return;
    state.stopped = true;
    connection.disconnect();
  };
  void (async () => {
    let last = `${String(after)}-0`;
    for (;;) {
      const reply = await connection.xread('COUNT', BATCH, 'BLOCK', BLOCK_MS, 'STREAMS', key, last);
      for (const [id, fields] of reply?.[0]?.[1] ?? []) {
        if (state.stopped) return;
        last = id;
        const entry = entryOf(id, fields);
        onEntry(entry);
        if (entry.end !== undefined) {
          stop();
          return;
        }
      }
    }
  })().catch((error: unknown) => {
    if (state.stopped) return;
    stop();
    onFailure(error);
  });
  return stop;
}

function entryOf(id: string, fields: string[]): StreamEntry {
  const values = new Map<string, string>();
  for (let index = 0; index + 1 < fields.length; index += 2)
    values.set(fields[index] ?? '', fields[index + 1] ?? '');
  const line = values.get('s');
  const event = values.get('e');
  const end = values.get('end');
  return {
    n: Number(id.split('-')[0]),
    ...(line === undefined ? {} : { line }),
    ...(event === undefined ? {} : { event }),
    ...(end === undefined ? {} : { end }),
  };
}
