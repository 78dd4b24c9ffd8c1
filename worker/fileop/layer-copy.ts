import { chmodSync, lchownSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { nativeFs } from '../../runtime/index.js';
import type { CopyAction, FileOp } from '../../solver/index.js';
import { resolveInRoot } from './in-root.js';

/**
 * A COPY that may write straight into the new layer's directory instead of
 * through an overlay of its base: its destination is new to the base (or an
 * empty directory there), so nothing it writes meets anything in the base and
 * the layer comes out as the overlay would have left it. Writing directly
 * skips overlayfs on every file and, more to the point, lets unchanged files
 * be hard-linked from an earlier result (FileReuse): a link cannot cross into
 * an overlay mount.
 */
export interface LayerCopyPlan {
  /** The op with the destination's symlinks resolved against the base. */
  readonly op: FileOp;
  /** Directories of the base, parents first, that the layer must hold (overlay's copy-up). */
  readonly copyUp: readonly string[];
}

/** The plan, or undefined when the op must go through an overlay (it meets the base's files). */
export async function planLayerCopy(
  op: FileOp,
  baseRoot: string,
): Promise<LayerCopyPlan | undefined> {
  const [action, ...more] = op.actions;
  if (action?.action !== 'copy' || more.length > 0 || action.unpack) return undefined;
  const resolved = await resolveInRoot(baseRoot, action.dest, true);
  if (resolved === baseRoot) return undefined;
  const relative = resolved.slice(baseRoot.length + 1);
  const parts = relative.split('/');
  const copyUp: string[] = [];
  for (let depth = 1; depth <= parts.length; depth++) {
    const path = parts.slice(0, depth).join('/');
    const stats = lstatSync(`${baseRoot}/${path}`, { throwIfNoEntry: false });
    if (stats === undefined) break;
    if (!stats.isDirectory()) return undefined;
    if (depth === parts.length && readdirSync(`${baseRoot}/${path}`).length > 0) return undefined;
    copyUp.push(path);
  }
  const dest = `/${relative}${action.dest.endsWith('/') ? '/' : ''}`;
  const copy: CopyAction = { ...action, dest };
  return { op: { ...op, actions: [copy] }, copyUp };
}

/** Recreates the plan's base directories in the layer with their mode, owner and xattrs, as overlay's copy-up. */
export function copyUpDirectories(plan: LayerCopyPlan, baseRoot: string, layerRoot: string): void {
  for (const path of plan.copyUp) {
    const from = `${baseRoot}/${path}`;
    const to = `${layerRoot}/${path}`;
    const stats = lstatSync(from);
    mkdirSync(to);
    // chown before chmod: chown clears setuid and setgid bits.
    lchownSync(to, stats.uid, stats.gid);
    chmodSync(to, stats.mode & 0o7777);
    for (const name of nativeFs.llistxattr(from)) {
      if (name.startsWith('trusted.overlay.')) continue;
      const value = nativeFs.lgetxattr(from, name);
      if (value !== undefined) nativeFs.lsetxattr(to, name, value);
    }
  }
}
