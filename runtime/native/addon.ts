import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { TbuildError } from '../../core/index.js';

/**
 * Where node-gyp puts the native build. This file runs from source (runtime/native/,
 * under vitest) and compiled (dist/runtime/native/, or inside the CLI bundle at
 * dist/bundle/cli/main.js, which is as deep), so both layouts are tried.
 */
const BUILD_DIRS = ['./build/Release/', '../../../runtime/native/build/Release/'];

/** Absolute path of a file node-gyp built (the addon, the helper, test fixtures). */
export function nativeBuildPath(name: string): string {
  for (const dir of BUILD_DIRS) {
    const candidate = fileURLToPath(new URL(dir + name, import.meta.url));
    if (existsSync(candidate)) return candidate;
  }
  throw new TbuildError('TB_RUNTIME_NATIVE_MISSING', `the native build is missing ${name}`, {
    hint: 'run `npm ci` (or `npx node-gyp rebuild --directory=runtime/native`) to build it',
  });
}

/**
 * One directory from scanDirectory (runtime/native/src/scan_directory.cc): entry i's
 * numbers are stats[i * stride …]; runtime/scanned-directory.ts reads them.
 */
export interface RawScan {
  readonly names: string[];
  readonly stats: Float64Array;
  readonly stride: number;
}

/** The raw addon surface (runtime/native/src/fs_addon.cc); wrapped by native-fs.ts. */
export interface RawAddon {
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Buffer, flags: number): void;
  lgetxattr(path: string, name: string): Buffer | undefined;
  llistxattr(path: string): string[];
  lremovexattr(path: string, name: string): void;
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  mountFromDir(
    cwd: string,
    source: string,
    target: string,
    fstype: string,
    flags: number,
    data: string,
  ): void;
  umount2(target: string, flags: number): void;
  openInRoot(root: string, path: string, flags: number): number;
  resolveInRoot(root: string, path: string, flags: number): string;
  closeFd(fd: number): void;
  tryLockExclusive(fd: number): boolean;
  tryLockShared(fd: number): boolean;
  readFilesAt(dirFd: number, names: string[], limits: number[], buffer: Buffer): Promise<number[]>;
  scanDirectory(path: string, withXattrs: boolean): RawScan;
  copyFiles(
    sourceDir: string,
    targetDir: string,
    names: string[],
    attributes: Float64Array,
  ): Promise<void>;
  linkFiles(fromDir: string, toDir: string, names: string[]): Promise<number[]>;
  sha256Create(): Sha256Handle;
  sha256Update(handle: Sha256Handle, bytes: Uint8Array): Promise<void>;
  sha256Digest(handle: Sha256Handle): string;
}

/** The native state of one SHA-256 stream (runtime/native/src/sha256_stream.cc). */
export type Sha256Handle = { readonly __brand: 'Sha256Handle' };

let loaded: RawAddon | undefined;

/** Loads the addon once. ES modules cannot import a .node file, hence createRequire. */
export function loadAddon(): RawAddon {
  if (loaded === undefined) {
    const require = createRequire(import.meta.url);
    loaded = require(nativeBuildPath('tbuild_native.node')) as RawAddon;
  }
  return loaded;
}
