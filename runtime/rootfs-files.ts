import { readFileSync, type Stats, lstatSync } from 'node:fs';
import { nativeFs } from './native-fs.js';

const MAX_BYTES = 10 * 1024 * 1024; // BuildKit caps passwd and group at 10 MiB

/**
 * Reads a small regular file from the merged view of an overlay stack without
 * mounting it: the top-most layer that has the path wins; a whiteout (char 0/0) or
 * an opaque parent directory hides the layers below. Paths are resolved inside each
 * layer (in-root). Symlinks that cross layers are not followed across; that is
 * enough for /etc/passwd and /etc/group, the only callers.
 */
export function readMergedFile(
  layersTopFirst: readonly string[],
  path: string,
): string | undefined {
  const parts = path.split('/').filter((part) => part !== '');
  for (const layer of layersTopFirst) {
    let resolved: string;
    try {
      resolved = nativeFs.resolveInRoot(layer, path);
    } catch (error) {
      if (hidesBelow(layer, parts)) return undefined;
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw error;
    }
    let stats: Stats;
    try {
      stats = lstatSync(resolved);
    } catch {
      continue;
    }
    if (stats.isCharacterDevice() && stats.rdev === 0) return undefined; // whiteout
    if (!stats.isFile() || stats.size > MAX_BYTES) return undefined;
    return readFileSync(resolved, 'utf8');
  }
  return undefined;
}

/** True when this layer deletes the path or an ancestor (whiteout) or makes an ancestor opaque. */
function hidesBelow(layer: string, parts: readonly string[]): boolean {
  for (let depth = 1; depth <= parts.length; depth++) {
    const prefix = parts.slice(0, depth).join('/');
    let resolved: string;
    try {
      resolved = nativeFs.resolveInRoot(layer, prefix, { noFollow: true });
    } catch {
      return false;
    }
    const stats = lstatSync(resolved);
    if (stats.isCharacterDevice() && stats.rdev === 0) return true;
    if (
      stats.isDirectory() &&
      depth < parts.length &&
      (nativeFs.lgetxattr(resolved, 'trusted.overlay.opaque')?.toString() === 'y' ||
        nativeFs.lgetxattr(resolved, 'user.overlay.opaque')?.toString() === 'y')
    ) {
      return true;
    }
  }
  return false;
}
