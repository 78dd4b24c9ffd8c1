import { rename, rmdir } from 'node:fs/promises';
import {
  canceledError,
  isTbuildError,
  toTbuildError,
  type Descriptor,
  type Digest,
  type Logger,
} from '../../core/index.js';
import { blobPath } from '../../cache/index.js';
import type { ThreadPool } from '../threads/index.js';
import type { BuildStore } from './store.js';
import { writeSnapshot } from './views.js';

/** A layer extracted into a snapshot of its own, not yet stacked on its parent. */
export interface StagedLayer {
  /** The active snapshot holding the layer; abort it once committed or given up. */
  readonly id: string;
  readonly upperdir: string;
  readonly entries: number;
  readonly diffId: Digest;
}

/**
 * Extracts a layer blob on a pool thread into a fresh parentless active snapshot.
 * Layers in overlay form do not read their parent (hardlinks may only point inside the
 * layer, whiteouts are device nodes), so every layer of an image can extract at once,
 * each in its own directory, and be stacked in order afterwards ({@link commitStaged}).
 * On failure, once the thread has stopped, the snapshot is dropped; a blob found
 * corrupt is removed from the store so the next build fetches it again.
 */
export async function stageLayer(
  store: BuildStore,
  pool: ThreadPool,
  layer: { readonly descriptor: Descriptor; readonly diffId: Digest },
  options: { readonly signal: AbortSignal; readonly logger: Logger },
): Promise<StagedLayer> {
  const { descriptor } = layer;
  // Reading through the store leases the blob and checks it exists before the
  // thread opens the file by path (the rule of docs/dev/storage.md).
  (await store.content.readStream(descriptor.digest, { signal: options.signal })).destroy();
  const active = await store.snapshots.prepare({ signal: options.signal });
  const cancel = new Int32Array(new SharedArrayBuffer(4));
  const onAbort = (): void => {
    Atomics.store(cancel, 0, 1);
  };
  options.signal.addEventListener('abort', onAbort, { once: true });
  const started = performance.now();
  try {
    // No signal for the pool: piscina would terminate the thread mid-write and settle at
    // once, before the thread stops touching the directory we are about to remove.
    const result = await pool.run('extractLayer', {
      blob: {
        path: blobPath(store.layout, descriptor.digest),
        digest: descriptor.digest,
        size: descriptor.size,
        mediaType: descriptor.mediaType,
        diffId: layer.diffId,
      },
      dir: active.upperdir,
      cancel,
    });
    for (const line of result.logs) options.logger[line.level](line.message, line.fields);
    options.logger.debug('layer extracted', {
      digest: descriptor.digest,
      entries: result.entries,
      bytes: result.contentBytes,
      threadId: result.threadId,
      ms: Math.round(performance.now() - started),
    });
    return {
      id: active.id,
      upperdir: active.upperdir,
      entries: result.entries,
      diffId: result.diffId,
    };
  } catch (error) {
    await store.snapshots.abort(active.id).catch(() => undefined);
    if (isTbuildError(error, 'TB_CONTENT_CORRUPT')) {
      await store.content.verify(descriptor.digest, { signal: options.signal }).catch(() => false);
    }
    if (options.signal.aborted) throw canceledError(options.signal);
    throw toTbuildError(error);
  } finally {
    options.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Stacks a staged layer on `parent` (which must be committed) as a committed snapshot:
 * the staged directory moves into the new snapshot, so nothing is copied.
 */
export async function commitStaged(
  store: BuildStore,
  parent: string | undefined,
  staged: StagedLayer,
  options: { readonly signal: AbortSignal; readonly labels: Readonly<Record<string, string>> },
): Promise<string> {
  try {
    return await writeSnapshot(
      store,
      parent,
      { signal: options.signal, labels: options.labels, direct: true },
      async (dir) => {
        await rmdir(dir);
        await rename(staged.upperdir, dir);
      },
    );
  } finally {
    await store.snapshots.abort(staged.id).catch(() => undefined);
  }
}
