import { loadAddon } from './native/addon.js';
import { ScannedDirectory } from './scanned-directory.js';

/** mount(2) flags (linux/mount.h), for {@link NativeFs.mount}. */
export const MountFlags = {
  MS_RDONLY: 0x1,
  MS_NOSUID: 0x2,
  MS_NODEV: 0x4,
  MS_NOEXEC: 0x8,
  MS_REMOUNT: 0x20,
  MS_BIND: 0x1000,
  MS_MOVE: 0x2000,
  MS_REC: 0x4000,
  MS_PRIVATE: 0x40000,
  MS_SLAVE: 0x80000,
} as const;

/** umount2(2) flags. */
export const UmountFlags = { MNT_FORCE: 0x1, MNT_DETACH: 0x2, UMOUNT_NOFOLLOW: 0x8 } as const;

/** setxattr(2) flags: fail if present / fail if absent. 0 means create or replace. */
export const XattrFlags = { XATTR_CREATE: 0x1, XATTR_REPLACE: 0x2 } as const;

export interface ScanOptions {
  /** Also measure each entry's xattr name list (one llistxattr per entry). */
  readonly xattrs?: boolean;
}

export interface InRootOptions {
  /** Do not follow a symlink in the final component (return the link itself). */
  readonly noFollow?: boolean;
  /** Skip openat2 and use the component-by-component walk (for tests of the fallback). */
  readonly forceWalk?: boolean;
}

/**
 * Filesystem primitives Node lacks. Synchronous (each is one or two syscalls).
 * Failures throw errors shaped like node:fs errors (`code` such as 'ENOENT',
 * 'EPERM', 'ENOTSUP'; `errno`, `syscall`, `path`), so callers can branch on `code`.
 * Functions with an `l` prefix act on a symlink itself, never its target.
 */
export interface NativeFs {
  /** mknod(2). `mode` includes the file type (e.g. S_IFCHR | 0o644); a 0/0 char device is an overlay whiteout. */
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Uint8Array, flags?: number): void;
  /** The attribute's value, or undefined when the file does not have it (ENODATA). */
  lgetxattr(path: string, name: string): Buffer | undefined;
  llistxattr(path: string): string[];
  lremovexattr(path: string, name: string): void;
  /** mount(2). `fstype` and `data` may be empty (e.g. for binds and remounts). */
  mount(source: string, target: string, fstype: string, flags: number, data?: string): void;
  /**
   * mount(2) with relative paths in `data` (an overlay's lowerdirs) resolved against `cwd`,
   * without changing the process's cwd: the call runs on a short-lived thread with a
   * cwd of its own (unshare(CLONE_FS)). Errors name `cwd` when it cannot be entered.
   */
  mountFromDir(
    cwd: string,
    source: string,
    target: string,
    fstype: string,
    flags: number,
    data: string,
  ): void;
  umount2(target: string, flags?: number): void;
  /**
   * Opens `path` as if `root` were "/": "..", absolute and relative symlinks never
   * leave `root` (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, or a safe
   * O_NOFOLLOW walk on kernels without openat2). Returns an O_PATH, close-on-exec
   * fd that the caller must close with {@link NativeFs.closeFd}; use it as `/proc/self/fd/<fd>` with node:fs.
   */
  openInRoot(root: string, path: string, options?: InRootOptions): number;
  /**
   * Resolves `path` inside `root` (as openInRoot) and returns the absolute host path
   * of what it names. The object must exist. A path string can be raced if something
   * else writes the tree concurrently; prefer openInRoot then.
   */
  resolveInRoot(root: string, path: string, options?: InRootOptions): string;
  /** Closes an fd from openInRoot (node:fs warns when it closes fds it did not open). */
  closeFd(fd: number): void;
  /**
   * flock(2) LOCK_EX | LOCK_NB on an open fd: true when the lock is now held, false when
   * another open file description holds it (another process, or another open in this
   * one). The kernel releases it when the fd is closed or the process dies.
   */
  tryLockExclusive(fd: number): boolean;
  /**
   * flock(2) LOCK_SH | LOCK_NB: true when a shared lock is now held (any number of
   * holders), false while an exclusive one is held elsewhere.
   */
  tryLockShared(fd: number): boolean;
  /**
   * Reads files of the directory open as `dirFd` on a libuv thread, never following a
   * final symlink: file i goes into the next `limits[i]` bytes of `buffer`, until its end
   * or its slot is full. Resolves to the byte counts; the buffer must stay untouched and
   * `dirFd` open until then. One call for many files where node:fs needs open, read and
   * close per file.
   */
  readFilesAt(dirFd: number, names: string[], limits: number[], buffer: Buffer): Promise<number[]>;
  /**
   * Lists a directory and lstats every entry in one synchronous call (readdir, then
   * fstatat without following links; with `xattrs`, llistxattr too), where node:fs needs
   * readdirSync plus an lstatSync and a BigIntStats per entry. `path` itself is followed
   * if it is a symlink, as readdirSync does. An entry removed while the scan runs is left
   * out. Errors are node:fs-shaped: syscall 'scandir' with `path` for the directory
   * (ENOENT, ENOTDIR, EACCES), 'lstat' or 'llistxattr' with the entry's path.
   */
  scanDirectory(path: string, options?: ScanOptions): ScannedDirectory;
  /**
   * Copies the regular files `sourceDir/names[i]` to new files `targetDir/names[i]` (which
   * must not exist) on a libuv thread, giving each the i-th of `attributes`' rows: uid,
   * gid, mode, atime seconds, atime nanoseconds, mtime seconds, mtime nanoseconds. Never
   * follows a symlink at `names[i]`; the first failure rejects, naming the file.
   */
  copyFiles(
    sourceDir: string,
    targetDir: string,
    names: string[],
    attributes: Float64Array,
  ): Promise<void>;
  /** Hard-links `fromDir/names[i]` as `toDir/names[i]` on a libuv thread; resolves to each link's errno (0 = made). */
  linkFiles(fromDir: string, toDir: string, names: string[]): Promise<number[]>;
}

function inRootFlags(options: InRootOptions | undefined): number {
  return (options?.noFollow === true ? 1 : 0) | (options?.forceWalk === true ? 2 : 0);
}

/** The addon, loaded on first use (importing runtime/ does not need the native build). */
export const nativeFs: NativeFs = {
  mknod: (path, mode, major, minor) => {
    loadAddon().mknod(path, mode, major, minor);
  },
  lsetxattr: (path, name, value, flags = 0) => {
    const buffer = Buffer.isBuffer(value)
      ? value
      : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    loadAddon().lsetxattr(path, name, buffer, flags);
  },
  lgetxattr: (path, name) => loadAddon().lgetxattr(path, name),
  llistxattr: (path) => loadAddon().llistxattr(path),
  lremovexattr: (path, name) => {
    loadAddon().lremovexattr(path, name);
  },
  mount: (source, target, fstype, flags, data = '') => {
    loadAddon().mount(source, target, fstype, flags, data);
  },
  mountFromDir: (cwd, source, target, fstype, flags, data) => {
    loadAddon().mountFromDir(cwd, source, target, fstype, flags, data);
  },
  umount2: (target, flags = 0) => {
    loadAddon().umount2(target, flags);
  },
  openInRoot: (root, path, options) => loadAddon().openInRoot(root, path, inRootFlags(options)),
  resolveInRoot: (root, path, options) =>
    loadAddon().resolveInRoot(root, path, inRootFlags(options)),
  closeFd: (fd) => {
    loadAddon().closeFd(fd);
  },
  tryLockExclusive: (fd) => loadAddon().tryLockExclusive(fd),
  tryLockShared: (fd) => loadAddon().tryLockShared(fd),
  readFilesAt: (dirFd, names, limits, buffer) =>
    loadAddon().readFilesAt(dirFd, names, limits, buffer),
  scanDirectory: (path, options) =>
    new ScannedDirectory(path, loadAddon().scanDirectory(path, options?.xattrs === true)),
  copyFiles: (sourceDir, targetDir, names, attributes) =>
    loadAddon().copyFiles(sourceDir, targetDir, names, attributes),
  linkFiles: (fromDir, toDir, names) => loadAddon().linkFiles(fromDir, toDir, names),
};
