/**
 * The filesystem primitives Node lacks that layer work needs, from the runtime's native
 * addon: mknod, xattrs that never follow a final symlink, and openat2(RESOLVE_IN_ROOT).
 * A subset of NativeFs, so tests and callers can hand in anything with the same surface.
 */
import { nativeFs, type NativeFs } from '../../runtime/index.js';

export type LayerFs = Pick<
  NativeFs,
  | 'mknod'
  | 'lsetxattr'
  | 'lgetxattr'
  | 'llistxattr'
  | 'openInRoot'
  | 'closeFd'
  | 'readFilesAt'
  | 'scanDirectory'
>;

export const defaultLayerFs: LayerFs = nativeFs;

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
