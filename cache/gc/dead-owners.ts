import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted, type Logger } from '../../core/index.js';
import { listDir } from '../fs/atomic.js';
import { isOwnerAlive, tempNamePid } from '../fs/process-owner.js';
import type { StoreLayout } from '../layout.js';
import { isLeaseLive, type LeaseManager } from '../leases.js';
import type { FsSnapshotter } from '../snapshots/fs-snapshotter.js';

/**
 * What a process leaves on the root when it dies without its finally blocks
 * (kill -9, OOM killer, power loss): temp entries, active snapshots and leases,
 * each recorded with its owner's pid. Everything here belongs to a process that
 * is gone, so it is removed without the store lock: no live process uses it,
 * and two processes removing the same thing at once both succeed.
 */
export interface DeadOwnerParts {
  readonly layout: StoreLayout;
  readonly snapshots: FsSnapshotter;
  readonly leases: LeaseManager;
}

export interface DeadOwnerReport {
  readonly temps: number;
  readonly activeSnapshots: number;
  readonly leases: number;
}

/** Removes every temp entry, active snapshot and lease whose process is gone. */
export async function removeDeadOwners(
  parts: DeadOwnerParts,
  options: { readonly signal: AbortSignal; readonly logger: Logger },
): Promise<DeadOwnerReport> {
  throwIfAborted(options.signal);
  const temps = await removeDeadTemps(parts.layout.tmp);
  throwIfAborted(options.signal);
  const activeSnapshots = await abortDeadActive(parts.snapshots);
  throwIfAborted(options.signal);
  const leases = await removeDeadLeases(parts.leases);
  const report = { temps, activeSnapshots, leases };
  if (temps + activeSnapshots + leases > 0) {
    options.logger.info('removed what dead processes left on the root', { ...report });
  }
  return report;
}

/**
 * Temp entries (`<pid>-<thread>-<random>`) whose writer is gone. With
 * `maxAgeMs` (prune), also those older than that whatever their pid says, for
 * a pid reused by another process. Entries not named by a pid (`mnt`, `empty`)
 * belong to their users: `mnt` may hold a live process's mounts, and removing
 * through a mount would delete a running build's files.
 */
export async function removeDeadTemps(
  tmp: string,
  options: { readonly maxAgeMs?: number; readonly now?: number } = {},
): Promise<number> {
  let removed = 0;
  for (const name of await listDir(tmp)) {
    const pid = tempNamePid(name);
    if (pid === undefined) continue;
    const path = join(tmp, name);
    let dead = !isOwnerAlive({ pid, start: 0 });
    if (!dead && options.maxAgeMs !== undefined) {
      const age = await stat(path).then(
        (stats) => (options.now ?? Date.now()) - stats.mtimeMs,
        () => 0,
      );
      dead = age > options.maxAgeMs;
    }
    if (dead) {
      await rm(path, { recursive: true, force: true });
      removed += 1;
    }
  }
  return removed;
}

/**
 * Active snapshots whose owner is gone (see FsSnapshotter.isActiveLive);
 * with `before`, only those begun before it (prune: not one that appeared
 * while the prune ran).
 */
export async function abortDeadActive(
  snapshots: FsSnapshotter,
  options: { readonly before?: number } = {},
): Promise<number> {
  let aborted = 0;
  for (const active of await snapshots.listActive()) {
    if (snapshots.isActiveLive(active)) continue;
    if (options.before !== undefined && active.since >= options.before) continue;
    await snapshots.abort(active.id);
    aborted += 1;
  }
  return aborted;
}

/** Leases that hold nothing any more: expired, or their process is gone. */
export async function removeDeadLeases(leases: LeaseManager): Promise<number> {
  const now = Date.now();
  let removed = 0;
  for (const lease of await leases.list()) {
    if (isLeaseLive(lease, now)) continue;
    await leases.remove(lease.id);
    removed += 1;
  }
  return removed;
}
