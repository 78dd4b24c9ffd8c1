import { mkdir, rmdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  MountFlags,
  nativeFs,
  relativeOverlay,
  UmountFlags,
  type OverlayLayers,
} from '../../runtime/index.js';

/**
 * Makes an empty mount point under `parent`, named `m<pid>x<random>` so the
 * next command on the root (recoverRoot) can detach what a killed process left
 * mounted.
 */
export async function makeMountPoint(parent: string): Promise<string> {
  const dir = join(parent, `m${String(process.pid)}x${randomBytes(5).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Mounts an overlay at `target`. With an upper dir it is writable and its
 * changes land there; without one it is a read-only union of the lowers (at
 * least two). The layers are given relative to their common directory (the
 * snapshot directory for a chain), so the one page of mount options holds
 * overlayfs' 500 layers whatever the root's path is (runtime/overlay-options.ts);
 * TB_RUNTIME_SPEC when it cannot. The caller unmounts with {@link unmount}.
 */
export function mountOverlay(target: string, layers: OverlayLayers): void {
  const { cwd, options } = relativeOverlay(layers);
  const flags = layers.upperDir === undefined ? MountFlags.MS_RDONLY : 0;
  nativeFs.mountFromDir(cwd, 'overlay', target, 'overlay', flags | MountFlags.MS_NODEV, options);
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
