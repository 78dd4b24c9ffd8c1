import { lstat, readlink } from 'node:fs/promises';
import { TbuildError } from '../../core/index.js';

const MAX_SYMLINKS = 40;

/**
 * Resolves an image path inside `root` as if `root` were `/`: symlinks are
 * followed with chroot semantics, so `..` and absolute targets can never leave
 * the root (a base image's `/app -> /` cannot send a COPY onto the host).
 * Returns the host path. The last component is followed only when asked.
 */
export async function resolveInRoot(
  root: string,
  path: string,
  followLast: boolean,
): Promise<string> {
  const pending = splitPath(path);
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() ?? '';
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = [...resolved, part];
    const isLast = pending.length === 0;
    if (isLast && !followLast) {
      resolved.push(part);
      break;
    }
    const host = hostPath(root, candidate);
    let target: string | undefined;
    try {
      if ((await lstat(host)).isSymbolicLink()) target = await readlink(host);
    } catch {
      // A missing component: the rest of the path is created below it.
    }
    if (target === undefined) {
      resolved.push(part);
      continue;
    }
    links += 1;
    if (links > MAX_SYMLINKS) {
      throw new TbuildError('TB_FILEOP', `too many levels of symbolic links resolving ${path}`, {
        details: { path },
      });
    }
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...splitPath(target));
  }
  return hostPath(root, resolved);
}

function splitPath(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

function hostPath(root: string, parts: readonly string[]): string {
  return parts.length === 0 ? root : `${root}/${parts.join('/')}`;
}
