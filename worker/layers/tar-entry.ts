/**
 * One entry of an OCI layer tar, as tbuild reads and writes it. Times are whole
 * nanoseconds since the epoch (bigint) so nothing is lost between lstat, PAX and utimensat.
 */
export type TarEntryType =
  'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

export interface TarEntry {
  /** Relative POSIX path without a trailing slash (the writer adds it for directories). */
  readonly name: string;
  readonly type: TarEntryType;
  /** Permission bits with setuid, setgid and sticky (0o7777); never the file type. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Bytes of content; 0 for everything but regular files. */
  readonly size: number;
  readonly mtimeNs: bigint;
  /** Only when the tar carries a PAX `atime`; appliers use mtime otherwise. */
  readonly atimeNs?: bigint;
  /** Symlink target, or the earlier entry a hardlink points to; '' otherwise. */
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** Extended attributes as PAX `SCHILY.xattr.<name>` records; values are raw bytes. */
  readonly xattrs: ReadonlyMap<string, Buffer>;
}

export const NS_PER_SECOND = 1_000_000_000n;
