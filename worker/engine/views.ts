import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError, toTbuildError } from '../../core/index.js';
import type { WorkerRef } from './refs.js';
import type { BuildStore } from './store.js';
import { makeMountPoint, mountOverlay, unmount } from './overlay.js';

/**
 * Runs `use` with a read-only view of a ref's filesystem: the context
 * directory, an empty directory for scratch, the snapshot directory itself
 * for a single layer, or an overlay of the chain. `use` must not write to it.
 */
export async function withReadView<T>(
  store: BuildStore,
  ref: WorkerRef,
  signal: AbortSignal,
  use: (dir: string) => Promise<T>,
): Promise<T> {
  if (ref.kind === 'local') return use(ref.dir);
  // Remote results are made local (remote-layers.ts) before anything reads them.
  if (ref.kind === 'remote')
    throw new TbuildError('TB_INTERNAL', 'a remote cache result was read before it was fetched');
  if (ref.snapshot === undefined) return use(await emptyDir(store));
  await store.snapshots.ensureIntact(ref.snapshot, { signal });
  const lowerDirs = await store.snapshots.lowerDirs(ref.snapshot);
  const [only] = lowerDirs;
  if (lowerDirs.length === 1 && only !== undefined) return use(only);
  signal.throwIfAborted();
  const target = await makeMountPoint(join(store.layout.tmp, 'mnt'));
  mountOverlay(target, { lowerDirs });
  try {
    return await use(target);
  } finally {
    await unmount(target);
  }
}

/**
 * Makes a new snapshot on `parent` by letting `change` write to a writable
 * view (an overlay whose upper directory becomes the new layer), then commits
 * it. On failure nothing is committed and the active snapshot is dropped.
 */
export async function writeSnapshot(
  store: BuildStore,
  parent: string | undefined,
  options: {
    readonly signal: AbortSignal;
    readonly labels?: Readonly<Record<string, string>>;
    /** Write the upper directory itself (a layer in overlay form), not a merged view. */
    readonly direct?: boolean;
  },
  change: (dir: string) => Promise<void>,
): Promise<string> {
  if (parent !== undefined) await store.snapshots.ensureIntact(parent, { signal: options.signal });
  const active = await store.snapshots.prepare({
    ...(parent === undefined ? {} : { parent }),
    signal: options.signal,
  });
  try {
    if (active.lowerdirs.length === 0 || options.direct === true) {
      await change(active.upperdir);
    } else {
      const target = await makeMountPoint(join(store.layout.tmp, 'mnt'));
      mountOverlay(target, {
        lowerDirs: active.lowerdirs,
        upperDir: active.upperdir,
        workDir: active.workdir,
      });
      try {
        await change(target);
      } finally {
        await unmount(target);
      }
    }
    const committed = await store.snapshots.commit(active.id, {
      signal: options.signal,
      ...(options.labels === undefined ? {} : { labels: options.labels }),
    });
    return committed.id;
  } catch (error) {
    await store.snapshots.abort(active.id).catch(() => undefined);
    throw toTbuildError(error);
  }
}

/** An empty directory, for `scratch` views and copies from nothing. */
export async function emptyDir(store: BuildStore): Promise<string> {
  const dir = join(store.layout.tmp, 'empty');
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Read views of several refs at once (for a step reading many inputs). */
export async function withReadViews<T>(
  store: BuildStore,
  refs: readonly WorkerRef[],
  signal: AbortSignal,
  use: (dirs: string[]) => Promise<T>,
): Promise<T> {
  const [first, ...rest] = refs;
  if (first === undefined) return use([]);
  return withReadView(store, first, signal, (dir) =>
    withReadViews(store, rest, signal, (dirs) => use([dir, ...dirs])),
  );
}
