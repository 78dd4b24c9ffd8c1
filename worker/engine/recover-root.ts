import { join } from 'node:path';
import type { Logger } from '../../core/index.js';
import { removeDeadOwners, type DeadOwnerReport, type TbuildStore } from '../../cache/index.js';
import { detachDeadMountPoints } from './dead-mounts.js';
import { removeFreeKeyLocks } from './key-lock.js';
import { removeStaleNetworkState } from '../../runtime/index.js';

export interface RootRecovery extends DeadOwnerReport {
  /** Mount points of dead processes detached and removed. */
  readonly mounts: number;
}

/**
 * Cleans what dead tbuild processes left on a root, for every command that
 * opens it (openEngine: build, load, pull, push; openMaintenance: du, prune,
 * images): their mounts first (views.ts and throwaway-views.ts mount under
 * `tmp/mnt`), so nothing below is in use, then the files of step locks they held
 * (key-lock.ts), the default network's nftables table when its last user was killed
 * (runtime/network/), their temp entries, active snapshots and leases (cache's
 * removeDeadOwners). Nothing a live process
 * holds is touched, so it needs no lock and may run in several processes at once.
 */
export async function recoverRoot(
  store: Pick<TbuildStore, 'layout' | 'snapshots' | 'leases'>,
  options: { readonly signal: AbortSignal; readonly logger: Logger },
): Promise<RootRecovery> {
  const mounts = await detachDeadMountPoints(join(store.layout.tmp, 'mnt'), options.signal);
  if (mounts > 0) {
    options.logger.info('detached mounts that dead processes left on the root', { mounts });
  }
  // Step locks a killed build held (flock; the kernel released them, the files stay).
  await removeFreeKeyLocks(join(store.layout.locks, 'keys'), options.signal);
  // The default network's nftables table, if a killed process was its last user (machine-wide).
  if (await removeStaleNetworkState().catch(() => false)) {
    options.logger.info('removed the default network that a dead process left');
  }
  return { mounts, ...(await removeDeadOwners(store, options)) };
}
