import { lstatSync, lutimesSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { nativeFs } from './native-fs.js';

/** A mount target the helper had to create in the rootfs (reported on its status pipe). */
export interface MountStub {
  readonly path: string;
  readonly kind: 'dir' | 'file';
  /** The parent directory's times before the stub was made, in nanoseconds. */
  readonly parentAtimeNs: bigint;
  readonly parentMtimeNs: bigint;
}

/**
 * Removes mount stubs from the step's upper directory, deepest first, only when
 * they are still empty, and restores their parents' times so the layer does not
 * change because of them (BuildKit executor/stubs.go). Paths are resolved in-root
 * without following the final component, so a symlink planted by the step cannot
 * make this delete anything else (CVE-2024-23652).
 */
export function removeMountStubs(upperDir: string, stubs: readonly MountStub[]): void {
  const ordered = [...stubs].sort((a, b) => b.path.length - a.path.length);
  for (const stub of ordered) {
    let resolved: string;
    try {
      resolved = nativeFs.resolveInRoot(upperDir, stub.path, { noFollow: true });
    } catch {
      continue; // not in the upper dir (already gone)
    }
    const stats = lstatSync(resolved);
    try {
      if (stub.kind === 'dir' && stats.isDirectory() && readdirSync(resolved).length === 0) {
        rmdirSync(resolved);
      } else if (stub.kind === 'file' && stats.isFile() && stats.size === 0) {
        unlinkSync(resolved);
      } else {
        continue; // the step put something there: it belongs to the layer
      }
    } catch {
      continue;
    }
    try {
      const parent = nativeFs.resolveInRoot(upperDir, dirname(stub.path), { noFollow: true });
      lutimesSync(parent, Number(stub.parentAtimeNs) / 1e9, Number(stub.parentMtimeNs) / 1e9);
    } catch {
      // the parent is not in the upper dir: nothing to restore
    }
  }
}
