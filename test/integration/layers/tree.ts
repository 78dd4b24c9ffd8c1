/** Helpers for the layer tests: full tree listings, overlay mounts, tar collection. */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { MountFlags, nativeFs } from '../../../runtime/index.js';

export interface ListOptions {
  /** Compare mtimes in whole seconds (what the default tar carries). */
  readonly mtimeSeconds?: boolean;
  /** Leave out mtimes of 0/0 whiteouts (the tar gives them the epoch). */
  readonly skipWhiteoutTimes?: boolean;
}

/**
 * One line per path below `root` (the root itself excluded), sorted: type, mode, uid, gid,
 * size, content hash, link target, rdev, xattrs (overlay's own reduced to `opaque`), mtime,
 * and for hardlinked files the first path sharing the inode.
 */
export function listTree(root: string, options: ListOptions = {}): string[] {
  const lines: string[] = [];
  const inodes = new Map<string, string>();
  const walk = (relative: string): void => {
    const names = readdirSync(`${root}/${relative}`).sort();
    for (const name of names) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const full = `${root}/${path}`;
      const stats = lstatSync(full, { bigint: true });
      const type = stats.isDirectory()
        ? 'dir'
        : stats.isFile()
          ? 'file'
          : stats.isSymbolicLink()
            ? 'symlink'
            : stats.isCharacterDevice()
              ? 'char'
              : stats.isBlockDevice()
                ? 'block'
                : stats.isFIFO()
                  ? 'fifo'
                  : 'other';
      const whiteout = type === 'char' && stats.rdev === 0n;
      const major = Number((stats.rdev >> 8n) & 0xfffn);
      const minor = Number((stats.rdev & 0xffn) | ((stats.rdev >> 12n) & 0xfff00n));
      const xattrs = nativeFs
        .llistxattr(full)
        .sort()
        .flatMap((key) => {
          const value = nativeFs.lgetxattr(full, key) ?? Buffer.alloc(0);
          if (/^(trusted|user)\.overlay\.opaque$/.test(key)) {
            return value.toString() === 'y' ? ['opaque'] : [];
          }
          if (/^(trusted|user)\.overlay\./.test(key)) return [];
          return [`${key}=${value.toString('hex')}`];
        });
      let hardlink = '';
      if (!stats.isDirectory() && stats.nlink > 1n && !whiteout) {
        const key = `${stats.dev.toString()}:${stats.ino.toString()}`;
        hardlink = inodes.get(key) ?? '';
        if (hardlink === '') inodes.set(key, path);
      }
      const mtime =
        whiteout && options.skipWhiteoutTimes === true
          ? '-'
          : options.mtimeSeconds === true
            ? (stats.mtimeNs / 1_000_000_000n).toString()
            : stats.mtimeNs.toString();
      lines.push(
        [
          path,
          type,
          (Number(stats.mode) & 0o7777).toString(8),
          `${stats.uid.toString()}:${stats.gid.toString()}`,
          type === 'file' ? stats.size.toString() : '-',
          type === 'file' ? createHash('sha256').update(readFileSync(full)).digest('hex') : '-',
          type === 'symlink' ? readlinkSync(full) : '-',
          type === 'char' || type === 'block' ? `${String(major)},${String(minor)}` : '-',
          xattrs.join(','),
          mtime,
          hardlink === '' ? '' : `=> ${hardlink}`,
        ].join(' | '),
      );
      if (stats.isDirectory()) walk(path);
    }
  };
  walk('');
  return lines;
}

export function mountOverlay(
  target: string,
  lowers: readonly string[],
  upper?: { upper: string; work: string },
): void {
  mkdirSync(target, { recursive: true });
  const options = [`lowerdir=${lowers.join(':')}`, 'redirect_dir=off', 'metacopy=off'];
  if (upper !== undefined) options.push(`upperdir=${upper.upper}`, `workdir=${upper.work}`);
  nativeFs.mount(
    'overlay',
    target,
    'overlay',
    upper === undefined ? MountFlags.MS_RDONLY : 0,
    options.join(','),
  );
}

export function unmount(target: string): void {
  nativeFs.umount2(target, 0);
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
