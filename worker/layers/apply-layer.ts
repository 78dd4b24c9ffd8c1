/**
 * OCI layer tar → layer directory in overlay form (a snapshot that overlay can use as a
 * lower or upper dir): `.wh.<x>` becomes a 0/0 character device `<x>`, `.wh..wh..opq`
 * becomes the opaque xattr on its directory, everything else is created with its
 * ownership, xattrs (capabilities included), mode (setuid/setgid/sticky) and times.
 *
 * Safety — nothing is ever written outside `dir`:
 * - refused (TB_LAYER_UNSAFE_PATH): names or hardlink targets whose `..` climbs above the
 *   root; hardlinks to a path this tar has not extracted before (including anything that
 *   was in `dir` already, and anything outside), to a directory, or to the root; symlink
 *   chains deeper than 40.
 * - contained: absolute names (`/etc/x` is `etc/x`), and symlinks met while resolving an
 *   entry's parent directories, which resolve inside `dir` as if it were `/` (absolute
 *   targets restart at `dir`, `..` stops there), like openat2(RESOLVE_IN_ROOT) and
 *   containerd's fs.RootPath. The last component is never followed: an existing entry
 *   there is unlinked and recreated (O_EXCL|O_NOFOLLOW for files).
 * Parents are resolved twice: a user-space walk that creates missing directories (safe as
 * `dir` is private to us), then the kernel's openat2(RESOLVE_IN_ROOT) through the addon;
 * every write goes through `/proc/self/fd/<that fd>/<name>`, so even a bug in the walk, or
 * a concurrent writer, cannot take a write outside `dir`.
 *
 * Metadata order matters: chown clears setuid/setgid and drops security.capability even
 * for root, so it goes lchown → xattrs → chmod → times (containerd's order). Directory
 * times are set last, deepest first, once nothing more is written inside them.
 */
import { chmod, lchown, link, lstat, lutimes, rm } from 'node:fs/promises';
import { noopLogger, throwIfAborted, type Logger } from '../../core/index.js';
import { S_IFCHR, defaultLayerFs, type LayerFs } from './layer-fs.js';
import { entryComponents, resolveDirInRoot, unsafePath, whiteoutOf } from './layer-path.js';
import { NS_PER_SECOND, type TarEntry } from './tar-entry.js';
import { readTar } from './tar-reader.js';
import { createEntry } from './create-entry.js';

export interface ApplyLayerOptions {
  readonly signal: AbortSignal;
  /** Defaults to the runtime's native addon. */
  readonly fs?: LayerFs;
  readonly logger?: Logger;
  /** `user.overlay.opaque` for overlays mounted with `userxattr` (rootless); `trusted.` otherwise. */
  readonly opaqueXattr?: 'trusted.overlay.opaque' | 'user.overlay.opaque';
}

export interface ApplyLayerResult {
  readonly entries: number;
  /** Bytes of regular-file content written. */
  readonly contentBytes: number;
}

const OVERLAY_XATTR = /^(trusted|user)\.overlay\./;

/** Applies an uncompressed layer tar into `dir`, which should be a fresh, empty directory. */
export async function applyLayerTar(
  source: AsyncIterable<Uint8Array>,
  dir: string,
  options: ApplyLayerOptions,
): Promise<ApplyLayerResult> {
  const applier = new LayerApplier(dir, options);
  let entries = 0;
  for await (const { entry, body } of readTar(source, options.signal)) {
    throwIfAborted(options.signal);
    await applier.apply(entry, body);
    entries++;
  }
  await applier.finish();
  return { entries, contentBytes: applier.contentBytes };
}

class LayerApplier {
  contentBytes = 0;
  /** Non-directories this tar created, by resolved relative path: the only valid hardlink targets. */
  private readonly extracted = new Set<string>();
  private readonly directoryTimes = new Map<string, { atimeNs: bigint; mtimeNs: bigint }>();
  private readonly parents = new Map<string, string[]>();
  private readonly root: string;
  private readonly options: ApplyLayerOptions;
  private readonly fs: LayerFs;
  private readonly logger: Logger;

  constructor(root: string, options: ApplyLayerOptions) {
    this.root = root;
    this.options = options;
    this.fs = options.fs ?? defaultLayerFs;
    this.logger = options.logger ?? noopLogger;
  }

  async apply(entry: TarEntry, body: AsyncIterable<Buffer>): Promise<void> {
    const components = entryComponents(entry.name);
    const base = components.pop();
    if (base === undefined) {
      this.logger.debug('layer entry for the root itself ignored', { name: entry.name });
      return;
    }
    const parent = await this.resolveParent(components, entry.name);
    const whiteout = whiteoutOf(base, entry.name);
    if (whiteout?.kind === 'aufs-meta') return;
    if (whiteout?.kind === 'opaque') {
      const opaque = this.options.opaqueXattr ?? 'trusted.overlay.opaque';
      await this.inDirectory(parent, (dir) => {
        this.fs.lsetxattr(`${dir}/.`, opaque, Buffer.from('y'));
        return Promise.resolve();
      });
      return;
    }
    const name = whiteout === undefined ? base : whiteout.target;
    const key = [...parent, name].join('/');
    if (whiteout !== undefined) {
      await this.inDirectory(parent, async (dir) => {
        await this.clear(`${dir}/${name}`, key, false);
        this.fs.mknod(`${dir}/${name}`, S_IFCHR, 0, 0);
        // The marker's time, not the apply's, keeps snapshots reproducible.
        const mtime = seconds(entry.mtimeNs);
        await lutimes(`${dir}/${name}`, seconds(entry.atimeNs ?? entry.mtimeNs), mtime);
      });
      return;
    }
    if (entry.type === 'hardlink') {
      const [linkParent, linkBase] = await this.linkTarget(entry, key);
      await this.inDirectory(parent, async (dir) => {
        await this.clear(`${dir}/${name}`, key, false);
        await this.inDirectory(linkParent, (linkDir) =>
          link(`${linkDir}/${linkBase}`, `${dir}/${name}`),
        );
      });
      this.extracted.add(key);
      return;
    }
    await this.inDirectory(parent, async (dir) => {
      const path = `${dir}/${name}`;
      await this.clear(path, key, entry.type === 'directory');
      await this.create(entry, path, body);
      if (entry.type !== 'directory') this.extracted.add(key);
      await this.setMetadata(entry, path, key);
    });
  }

  async finish(): Promise<void> {
    const deepestFirst = [...this.directoryTimes].sort(
      ([a], [b]) => b.split('/').length - a.split('/').length,
    );
    for (const [key, times] of deepestFirst) {
      const components = key.split('/');
      const base = components.pop() ?? '';
      await this.inDirectory(components, (dir) =>
        lutimes(`${dir}/${base}`, seconds(times.atimeNs), seconds(times.mtimeNs)),
      );
    }
  }

  /**
   * Resolved parents are remembered: they hold only directories, which entries can change
   * only by removing something, and {@link clear} forgets them all when it does.
   */
  private async resolveParent(components: string[], name: string): Promise<string[]> {
    const key = components.join('/');
    const known = this.parents.get(key);
    if (known !== undefined) return known;
    const parent = await resolveDirInRoot(this.root, components, name, { createMissing: true });
    this.parents.set(key, parent);
    return parent;
  }

  /** Runs `work` with `/proc/self/fd/<fd>` of the directory, opened with RESOLVE_IN_ROOT. */
  private async inDirectory<T>(
    components: readonly string[],
    work: (dir: string) => Promise<T>,
  ): Promise<T> {
    const fd = this.fs.openInRoot(this.root, components.length === 0 ? '.' : components.join('/'));
    try {
      return await work(`/proc/self/fd/${String(fd)}`);
    } finally {
      this.fs.closeFd(fd);
    }
  }

  /** Removes whatever sits at `path` unless it is a directory that `keepDirectory` allows to stay. */
  private async clear(path: string, key: string, keepDirectory: boolean): Promise<void> {
    const stats = await lstat(path).catch(() => undefined);
    if (stats === undefined || (keepDirectory && stats.isDirectory())) return;
    await rm(path, { recursive: true, force: true });
    this.parents.clear();
    const under = (other: string): boolean => other === key || other.startsWith(`${key}/`);
    for (const extracted of this.extracted) if (under(extracted)) this.extracted.delete(extracted);
    for (const directory of this.directoryTimes.keys()) {
      if (under(directory)) this.directoryTimes.delete(directory);
    }
  }

  /** The parent components and base name of an earlier entry a hardlink may point to. */
  private async linkTarget(entry: TarEntry, key: string): Promise<[string[], string]> {
    const components = entryComponents(entry.linkname);
    const base = components.pop();
    if (base === undefined) throw unsafePath('hardlink to the layer root', entry.name);
    const parent = await resolveDirInRoot(this.root, components, entry.linkname, {
      createMissing: false,
    });
    const targetKey = [...parent, base].join('/');
    if (!this.extracted.has(targetKey) || targetKey === key) {
      throw unsafePath(
        `hardlink to ${JSON.stringify(entry.linkname)}, which this layer has not extracted before it`,
        entry.name,
      );
    }
    return [parent, base];
  }

  private async create(entry: TarEntry, path: string, body: AsyncIterable<Buffer>): Promise<void> {
    this.contentBytes += await createEntry(entry, path, body, {
      fs: this.fs,
      signal: this.options.signal,
    });
  }

  private async setMetadata(entry: TarEntry, path: string, key: string): Promise<void> {
    await lchown(path, entry.uid, entry.gid);
    for (const [name, value] of entry.xattrs) {
      if (OVERLAY_XATTR.test(name)) {
        // A tar must not forge overlay state (opaque, redirect, origin) in the snapshot.
        this.logger.warn('ignoring overlay xattr in layer tar', { name: entry.name, xattr: name });
        continue;
      }
      try {
        this.fs.lsetxattr(path, name, value);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTSUP' && code !== 'EPERM' && code !== 'EOPNOTSUPP') throw error;
        this.logger.warn('xattr not supported here; skipped', {
          name: entry.name,
          xattr: name,
          code,
        });
      }
    }
    if (entry.type !== 'symlink') await chmod(path, entry.mode & 0o7777);
    const atimeNs = entry.atimeNs ?? entry.mtimeNs;
    if (entry.type === 'directory') {
      this.directoryTimes.set(key, { atimeNs, mtimeNs: entry.mtimeNs });
    } else {
      await lutimes(path, seconds(atimeNs), seconds(entry.mtimeNs));
    }
  }
}

/**
 * Node's lutimes takes seconds as a double: exact for whole seconds (what tbuild writes by
 * default), within a few hundred nanoseconds otherwise.
 */
function seconds(ns: bigint): number {
  const whole = ns / NS_PER_SECOND;
  return Number(whole) + Number(ns - whole * NS_PER_SECOND) / 1e9;
}
