/**
 * Extracts a tar stream into an existing directory for ADD, safely, the way BuildKit's
 * fileop does (solver/llbsolver/file: applyRootArchive, formerly chrootarchive.Untar):
 * - names are cleaned; one whose `..` climbs above the root is refused;
 * - every parent is resolved by the kernel with openat2(RESOLVE_IN_ROOT) through the
 *   runtime's addon, so symlinks already in the directory, or planted by the archive
 *   (`link -> /etc`, then `link/passwd`), resolve inside it as if it were `/`, as in
 *   Docker's chroot; every write goes through `/proc/self/fd/<fd>/<name>`;
 * - the last component is never followed: whatever is there (a planted symlink too) is
 *   removed first, unless both are directories, which merge;
 * - hardlinks may only name paths inside the root (resolved the same way);
 * - ownership comes from the archive (Docker keeps it; `owner` replaces it, as newer
 *   BuildKit does for ADD --chown), then xattrs (best effort, overlay ones refused, so an
 *   archive cannot forge overlay state), mode, and times; directory times are set last.
 * `.wh.` names are plain files here: ADD is not a layer, and Docker 20.10 keeps them as
 * files (checked on this machine). Unlike worker/layers' applyLayerTar, which turns them
 * into overlay whiteouts, refuses hardlinks to files it did not extract, and wants an
 * empty directory; that is why ADD has its own extractor (it shares createEntry with it).
 */
import { statSync } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, rm } from 'node:fs/promises';
import { TbuildError, noopLogger, throwIfAborted, type Logger } from '../../core/index.js';
import { nativeFs, type NativeFs } from '../../runtime/index.js';
import { createEntry, readTar, type TarEntry } from '../layers/index.js';

export type ExtractFs = Pick<NativeFs, 'mknod' | 'lsetxattr' | 'openInRoot' | 'closeFd'>;

export interface ExtractOptions {
  readonly signal: AbortSignal;
  /** Replaces the archive's uid/gid on everything extracted (ADD --chown). */
  readonly owner?: { readonly uid: number; readonly gid: number };
  readonly logger?: Logger;
  readonly fs?: ExtractFs;
}

export interface ExtractResult {
  readonly entries: number;
}

const OVERLAY_XATTR = /^(trusted|user)\.overlay\./;
const NS_PER_SECOND = 1_000_000_000n;

export async function extractTar(
  source: AsyncIterable<Uint8Array>,
  root: string,
  options: ExtractOptions,
): Promise<ExtractResult> {
  const extractor = new Extractor(root, options);
  let entries = 0;
  try {
    for await (const { entry, body } of readTar(source, options.signal)) {
      throwIfAborted(options.signal);
      await extractor.apply(entry, body);
      entries++;
    }
  } catch (error) {
    if (error instanceof TbuildError && error.code === 'TB_LAYER_INVALID') {
      throw new TbuildError('TB_ARCHIVE_INVALID', error.message.replace('layer tar', 'archive'), {
        cause: error,
      });
    }
    throw error;
  }
  await extractor.finish();
  return { entries };
}

class Extractor {
  private readonly directoryTimes: Array<{ parts: string[]; atimeNs: bigint; mtimeNs: bigint }> =
    [];
  private readonly fs: ExtractFs;
  private readonly logger: Logger;
  private readonly root: string;
  private readonly options: ExtractOptions;

  constructor(root: string, options: ExtractOptions) {
    this.root = root;
    this.options = options;
    this.fs = options.fs ?? nativeFs;
    this.logger = options.logger ?? noopLogger;
  }

  async apply(entry: TarEntry, body: AsyncIterable<Buffer>): Promise<void> {
    const parts = cleanName(entry.name);
    const base = parts.pop();
    if (base === undefined) return; // the root itself: its metadata is the destination's
    await this.inDirectory(parts, true, entry.name, async (dir) => {
      const path = `${dir}/${base}`;
      const existing = await lstat(path).catch(() => undefined);
      if (existing !== undefined && !(existing.isDirectory() && entry.type === 'directory')) {
        await rm(path, { recursive: true, force: true });
      }
      if (entry.type === 'hardlink') {
        await this.hardlink(entry, path);
        return;
      }
      await this.create(entry, path, body);
      await this.setMetadata(entry, path, [...parts, base]);
    });
  }

  async finish(): Promise<void> {
    // Deepest first, so setting a child's times does not disturb its parent's afterwards.
    const ordered = [...this.directoryTimes].sort((a, b) => b.parts.length - a.parts.length);
    for (const { parts, atimeNs, mtimeNs } of ordered) {
      const base = parts[parts.length - 1] ?? '';
      await this.inDirectory(parts.slice(0, -1), false, parts.join('/'), async (dir) => {
        const stats = await lstat(`${dir}/${base}`).catch(() => undefined);
        if (stats?.isDirectory() === true) {
          await lutimes(`${dir}/${base}`, seconds(atimeNs), seconds(mtimeNs));
        }
      }).catch(() => undefined); // replaced or removed by a later entry: nothing to set
    }
  }

  /**
   * Runs `work` with `/proc/self/fd/<fd>` of the directory `parts` names inside the root,
   * resolved by the kernel in-root; missing directories are created (0755) when asked.
   */
  private async inDirectory<T>(
    parts: readonly string[],
    create: boolean,
    name: string,
    work: (dir: string) => Promise<T>,
  ): Promise<T> {
    const fd = await this.openDirectory(parts, create, name);
    try {
      return await work(`/proc/self/fd/${String(fd)}`);
    } finally {
      this.fs.closeFd(fd);
    }
  }

  private async openDirectory(
    parts: readonly string[],
    create: boolean,
    name: string,
  ): Promise<number> {
    let fd: number;
    try {
      fd = this.fs.openInRoot(this.root, parts.length === 0 ? '.' : parts.join('/'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !create || parts.length === 0) {
        throw notADirectory(name, parts, error);
      }
      const base = parts[parts.length - 1] ?? '';
      await this.inDirectory(parts.slice(0, -1), true, name, (dir) =>
        mkdir(`${dir}/${base}`, { mode: 0o755 }).catch((cause: unknown) => {
          // EEXIST here means a dangling symlink; os.MkdirAll fails the same way in Docker.
          throw notADirectory(name, parts, cause);
        }),
      );
      fd = this.fs.openInRoot(this.root, parts.join('/'));
    }
    if (!statSync(`/proc/self/fd/${String(fd)}`).isDirectory()) {
      this.fs.closeFd(fd);
      throw notADirectory(name, parts, undefined);
    }
    return fd;
  }

  private async hardlink(entry: TarEntry, path: string): Promise<void> {
    const target = cleanName(entry.linkname);
    const targetBase = target.pop();
    if (targetBase === undefined) throw unsafe(entry.name, 'hardlink to the destination itself');
    await this.inDirectory(target, false, entry.linkname, (dir) =>
      link(`${dir}/${targetBase}`, path).catch((cause: unknown) => {
        throw new TbuildError(
          'TB_ARCHIVE_INVALID',
          `archive entry ${JSON.stringify(entry.name)}: cannot hardlink to ${JSON.stringify(entry.linkname)} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
          { cause, details: { name: entry.name, linkname: entry.linkname } },
        );
      }),
    );
  }

  private async create(entry: TarEntry, path: string, body: AsyncIterable<Buffer>): Promise<void> {
    await createEntry(entry, path, body, { fs: this.fs, signal: this.options.signal });
  }

  /** chown clears setuid/setgid and capabilities, so: lchown → xattrs → chmod → times. */
  private async setMetadata(entry: TarEntry, path: string, parts: string[]): Promise<void> {
    await lchown(path, this.options.owner?.uid ?? entry.uid, this.options.owner?.gid ?? entry.gid);
    for (const [name, value] of entry.xattrs) {
      if (OVERLAY_XATTR.test(name)) {
        this.logger.warn('ignoring overlay xattr in ADD archive', {
          name: entry.name,
          xattr: name,
        });
        continue;
      }
      try {
        this.fs.lsetxattr(path, name, value);
      } catch (error) {
        // Docker's ADD sets xattrs best effort (BestEffortXattrs).
        this.logger.warn('xattr not set', { name: entry.name, xattr: name, error: String(error) });
      }
    }
    if (entry.type !== 'symlink') await chmod(path, entry.mode & 0o7777);
    const atimeNs = entry.atimeNs ?? entry.mtimeNs;
    if (entry.type === 'directory') {
      this.directoryTimes.push({ parts, atimeNs, mtimeNs: entry.mtimeNs });
    } else {
      await lutimes(path, seconds(atimeNs), seconds(entry.mtimeNs));
    }
  }
}

/** Components of an entry name after path.Clean; a leading `/` is dropped (tar names are relative). */
export function cleanName(name: string): string[] {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw unsafe(name, '".." climbs above the destination');
      parts.pop();
      continue;
    }
    if (part.includes('\u0000')) throw unsafe(name, 'NUL byte in name');
    parts.push(part);
  }
  return parts;
}

function unsafe(name: string, why: string): TbuildError {
  return new TbuildError(
    'TB_ARCHIVE_UNSAFE_PATH',
    `refusing archive entry ${JSON.stringify(name)}: ${why}`,
    {
      details: { name },
      hint: 'the archive is malformed or malicious; nothing was written outside the destination',
    },
  );
}

function notADirectory(name: string, parts: readonly string[], cause: unknown): TbuildError {
  return new TbuildError(
    'TB_ARCHIVE_INVALID',
    `archive entry ${JSON.stringify(name)}: ${parts.join('/') || '.'} is not a directory`,
    { cause, details: { name } },
  );
}

/** lutimes takes seconds as a double: exact for whole seconds, within ~100 ns otherwise. */
function seconds(ns: bigint): number {
  const whole = ns / NS_PER_SECOND;
  return Number(whole) + Number(ns - whole * NS_PER_SECOND) / 1e9;
}
