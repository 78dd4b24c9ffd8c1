import { lstat, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '../../core/index.js';
import { nativeFs, UmountFlags } from '../../runtime/index.js';

/** Enough for any stack of mounts one path can hold here (an overlay, a bind on it). */
const MAX_STACKED_MOUNTS = 16;

/**
 * Detaches and removes the mount points under `parent` (`m<pid>x<random>`,
 * made by makeMountPoint) whose process is gone: a kill -9 skips every
 * finally, and a read-only overlay left mounted makes `rm -rf` of the root
 * fail. Lazy detach, since no process of ours uses them any more; every mount
 * stacked on the point goes. A live process's mount point is never touched
 * (a pid reused by another process keeps a dead one's until that ends).
 * Returns how many were removed.
 */
export async function detachDeadMountPoints(parent: string, signal: AbortSignal): Promise<number> {
  let removed = 0;
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    throwIfAborted(signal);
    const pid = /^m(\d+)x/.exec(name)?.[1];
    if (pid === undefined || isAlive(Number(pid))) continue;
    const target = join(parent, name);
    // A symlink in its place is not ours to follow (umount2 would follow it).
    if ((await lstat(target).catch(() => undefined))?.isDirectory() !== true) continue;
    detachAll(target);
    if (
      await rmdir(target).then(
        () => true,
        () => false,
      )
    )
      removed += 1;
  }
  return removed;
}

function detachAll(target: string): void {
  for (let count = 0; count < MAX_STACKED_MOUNTS; count += 1) {
    try {
      nativeFs.umount2(target, UmountFlags.MNT_DETACH | UmountFlags.UMOUNT_NOFOLLOW);
    } catch {
      // EINVAL: nothing (more) is mounted there.
      return;
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
