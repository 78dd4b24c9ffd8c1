import { threadId } from 'node:worker_threads';
import { toTbuildError, type Digest, type LogFields, type Logger } from '../../../core/index.js';

export interface ExtractLayerInput {
  readonly blob: {
    readonly path: string;
    readonly digest: Digest;
    readonly size: number;
    readonly mediaType: string;
    readonly diffId?: Digest;
  };
  /** A fresh, empty directory the layer is written to (overlay form). */
  readonly dir: string;
  readonly opaqueXattr?: 'trusted.overlay.opaque' | 'user.overlay.opaque';
  /**
   * Cancellation across the thread boundary: the caller sets element 0 to 1. Piscina's own
   * abort terminates the thread at once, which would leave the caller no moment at which
   * the thread has stopped writing to `dir`; this way the task stops at its next entry or
   * chunk and rejects with TB_CANCELED, and only then may the caller remove `dir`.
   */
  readonly cancel: Int32Array;
}

export interface ExtractLayerLog {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields?: LogFields;
}

export interface ExtractLayerOutput {
  readonly entries: number;
  readonly contentBytes: number;
  readonly diffId: Digest;
  /** The thread that did the work (0 is the main thread), for logs and tests. */
  readonly threadId: number;
  /** What the extractor logged (a Logger cannot cross threads); the caller re-logs it. */
  readonly logs: readonly ExtractLayerLog[];
}

/** How often the thread looks at the cancel flag; an entry or a chunk is checked in between. */
const CANCEL_POLL_MS = 10;
const MAX_LOGS = 100;

/**
 * Applies one layer blob to a directory on a thread: read, verify, decompress and write.
 * The layer code (and through it the runtime's native addon, which is context-aware) is
 * imported on first use, so threads that only hash or compress never load it.
 */
export async function extractLayer(input: ExtractLayerInput): Promise<ExtractLayerOutput> {
  const controller = new AbortController();
  const poll = setInterval(() => {
    if (Atomics.load(input.cancel, 0) !== 0) controller.abort();
  }, CANCEL_POLL_MS);
  const logs: ExtractLayerLog[] = [];
  try {
    if (Atomics.load(input.cancel, 0) !== 0) controller.abort();
    const [{ extractLayerBlob }, { zstdDecompress }] = await Promise.all([
      import('../../layers/index.js'),
      import('../../engine/zstd.js'),
    ]);
    const result = await extractLayerBlob(input.blob, input.dir, {
      signal: controller.signal,
      logger: collectingLogger(logs),
      zstd: zstdDecompress,
      ...(input.opaqueXattr === undefined ? {} : { opaqueXattr: input.opaqueXattr }),
    });
    return { ...result, threadId, logs };
  } catch (error) {
    // Only plain data keeps its fields across the thread boundary; the pool rebuilds it.
    // eslint-disable-next-line @typescript-eslint/only-throw-error
    throw toTbuildError(error).toJSON();
  } finally {
    clearInterval(poll);
  }
}

function collectingLogger(logs: ExtractLayerLog[], bindings: LogFields = {}): Logger {
  const add =
    (level: ExtractLayerLog['level']) =>
    (message: string, fields?: LogFields): void => {
      if (logs.length < MAX_LOGS) logs.push({ level, message, fields: { ...bindings, ...fields } });
    };
  return {
    debug: () => undefined,
    info: add('info'),
    warn: add('warn'),
    error: add('error'),
    child: (more) => collectingLogger(logs, { ...bindings, ...more }),
  };
}
