import { lstat, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { noopLogger, throwIfAborted, type Digest, type Logger } from '../../core/index.js';
import { isLeaseLive, openStore, type TbuildStore } from '../../cache/index.js';
import { pruneExplanations } from './explanations.js';
import { recoverRoot } from './recover-root.js';

/** A RUN --mount=type=cache directory under `<root>/v1/cache-mounts/`. */
export interface CacheMountUsage {
  readonly id: string;
  readonly bytes: number;
  /** The directory's mtime: when a build last changed its top level. */
  readonly lastUsedAt: number;
}

/**
 * The store for `tbuild images`, `du` and `prune`: no threads, no sandbox, no
 * lease; what dead processes left on the root is cleaned first (recoverRoot).
 */
export interface StoreMaintenance {
  readonly store: TbuildStore;
  cacheMounts(signal: AbortSignal): Promise<CacheMountUsage[]>;
  /**
   * Removes cache-mount directories (older than `until` ms when given). Cache
   * mounts are not leased per step, so this runs only when no build holds a
   * lease on the root; otherwise it removes nothing and says `busy`.
   */
  pruneCacheMounts(options: {
    readonly until?: number;
    readonly signal: AbortSignal;
  }): Promise<{ readonly removed: number; readonly bytes: number; readonly busy: boolean }>;
  /** Removes the cache-miss explanations of keys not among `remaining` (after a prune). */
  pruneExplanations(remaining: ReadonlySet<Digest>): Promise<number>;
}

export async function openMaintenance(options: {
  readonly root: string;
  readonly logger?: Logger;
  readonly signal: AbortSignal;
}): Promise<StoreMaintenance> {
  const logger = options.logger ?? noopLogger;
  const store = await openStore({ root: options.root, logger });
  await recoverRoot(store, { signal: options.signal, logger });
  const dir = join(store.layout.root, 'v1', 'cache-mounts');
  const list = async (signal: AbortSignal): Promise<CacheMountUsage[]> => {
    const names = await readdir(dir).catch(() => [] as string[]);
    const found: CacheMountUsage[] = [];
    for (const name of names) {
      throwIfAborted(signal);
      const stats = await stat(join(dir, name)).catch(() => undefined);
      if (stats?.isDirectory() !== true) continue;
      found.push({
        id: name,
        bytes: await treeBytes(join(dir, name), signal),
        lastUsedAt: stats.mtimeMs,
      });
    }
    return found;
  };
  return {
    store,
    cacheMounts: list,
    pruneExplanations: (remaining) => pruneExplanations(store, remaining),
    async pruneCacheMounts({ until, signal }) {
      const now = Date.now();
      if ((await store.leases.list()).some((lease) => isLeaseLive(lease, now))) {
        return { removed: 0, bytes: 0, busy: true };
      }
      let removed = 0;
      let bytes = 0;
      for (const mount of await list(signal)) {
        if (until !== undefined && mount.lastUsedAt >= now - until) continue;
        // Renamed into the trash first, so a half-deleted directory is never seen as a cache.
        const aside = join(store.layout.snapshotTrash, `cache-mount-${mount.id}-${String(now)}`);
        await rename(join(dir, mount.id), aside);
        await rm(aside, { recursive: true, force: true });
        removed += 1;
        bytes += mount.bytes;
      }
      return { removed, bytes, busy: false };
    },
  };
}

async function treeBytes(path: string, signal: AbortSignal): Promise<number> {
  throwIfAborted(signal);
  const stats = await lstat(path).catch(() => undefined);
  if (stats === undefined) return 0;
  if (!stats.isDirectory()) return stats.isFile() ? stats.size : 0;
  let total = 0;
  for (const name of await readdir(path).catch(() => [] as string[])) {
    total += await treeBytes(join(path, name), signal);
  }
  return total;
}
