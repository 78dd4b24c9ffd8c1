import { mkdir, readdir, rmdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TbuildError } from '../../core/index.js';
import { MountFlags, nativeFs, UmountFlags } from '../../runtime/index.js';

/**
 * Options every tbuild overlay uses: the upper directory alone must be a
 * complete diff (no redirects, no metacopy), and inode index files are not
 * wanted in snapshots.
 */
const OVERLAY_FEATURES = 'index=off,redirect_dir=off,metacopy=off';
/** mount(2) data is limited to one page. */
const MAX_MOUNT_DATA = 4095;

export interface OverlayLayers {
  /** Lower directories, top first. */
  readonly lowerDirs: readonly string[];
  readonly upperDir?: string;
  readonly workDir?: string;
}

/**
 * Makes an empty mount point under `parent`, named `m<pid>x<random>` so the
 * next engine on the root can detach what a killed process left mounted.
 */
export async function makeMountPoint(parent: string): Promise<string> {
  const dir = join(parent, `m${String(process.pid)}x${randomBytes(5).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Mounts an overlay at `target`. With an upper dir it is writable and its
 * changes land there; without one it is a read-only union of the lowers (at
 * least two). The caller unmounts with {@link unmount}.
 */
export function mountOverlay(target: string, layers: OverlayLayers): void {
  const parts = [`lowerdir=${layers.lowerDirs.join(':')}`];
  if (layers.upperDir !== undefined && layers.workDir !== undefined) {
    parts.push(`upperdir=${layers.upperDir}`, `workdir=${layers.workDir}`);
  }
  parts.push(OVERLAY_FEATURES);
  const data = parts.join(',');
  if (data.length > MAX_MOUNT_DATA) {
    throw new TbuildError(
      'TB_FILEOP',
      `overlay of ${String(layers.lowerDirs.length)} layers does not fit in one mount call`,
      {
        hint: 'use a shorter --root path, or squash the image: each layer costs its path length in the mount options',
      },
    );
  }
  const flags = layers.upperDir === undefined ? MountFlags.MS_RDONLY : 0;
  nativeFs.mount('overlay', target, 'overlay', flags | MountFlags.MS_NODEV, data);
}

/** Binds a directory at `target`, read-only when asked. */
export function bindMount(source: string, target: string, readonly: boolean): void {
  nativeFs.mount(source, target, '', MountFlags.MS_BIND | MountFlags.MS_REC);
  if (readonly) {
    nativeFs.mount(
      '',
      target,
      '',
      MountFlags.MS_BIND | MountFlags.MS_REMOUNT | MountFlags.MS_RDONLY | MountFlags.MS_REC,
    );
  }
}

/** Unmounts and removes a mount point; a lazy detach if something still holds it open. */
export async function unmount(target: string): Promise<void> {
  try {
    nativeFs.umount2(target, 0);
  } catch {
    nativeFs.umount2(target, UmountFlags.MNT_DETACH);
  }
  await rmdir(target).catch(() => undefined);
}

/**
 * Detaches and removes mount points under `parent` whose process is gone (a
 * kill -9 skips every finally). Lazy detach: nothing of ours still uses them.
 */
export async function removeDeadMountPoints(parent: string): Promise<void> {
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    const pid = /^m(\d+)x/.exec(name)?.[1];
    if (pid === undefined || isAlive(Number(pid))) continue;
    const target = join(parent, name);
    try {
      nativeFs.umount2(target, UmountFlags.MNT_DETACH);
    } catch {
      // Not mounted: the process died before or after its mount.
    }
    await rmdir(target).catch(() => undefined);
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
