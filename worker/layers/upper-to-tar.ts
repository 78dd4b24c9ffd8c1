/**
 * Overlay upper directory → uncompressed OCI layer tar.
 *
 * The output is a pure function of the tree (names, types, content, ownership, modes,
 * mtimes, xattrs, and which paths share an inode), so the same tree always gives the same
 * bytes: entries are sorted by name bytes, parents before children, and within a directory
 * the opaque marker comes first, then whiteouts, then the other children (the image spec
 * says whiteouts SHOULD precede their siblings). Markers carry mode 0, uid/gid 0 and mtime 0
 * (the epoch, as containerd 2 writes them), because an overlay whiteout's own times record
 * when the deletion ran. No atime, ctime, uname or gname is written. Mtimes are whole
 * seconds unless `timestampPrecision: 'nanosecond'`.
 */
import { Readable } from 'node:stream';
import { constants, readlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { TbuildError, noopLogger, throwIfAborted, type Logger } from '../../core/index.js';
import { DEFAULT_GZIP_BLOCK_SIZE, TimeSlicer } from '../threads/index.js';
import type { ScannedEntry } from '../../runtime/index.js';
import { defaultLayerFs, type LayerFs } from './layer-fs.js';
import { NS_PER_SECOND, type TarEntry } from './tar-entry.js';
import { END_OF_ARCHIVE, writeEntryHeader, type TimestampPrecision } from './tar-header.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from './layer-path.js';
import { ChunkWriter } from './chunk-writer.js';
import { BatchBuffers, SizeChanged, SmallFileReader, type SmallFile } from './small-files.js';

export interface UpperToTarOptions {
  readonly signal: AbortSignal;
  /** Defaults to the runtime's native addon. */
  readonly fs?: LayerFs;
  readonly logger?: Logger;
  /** Seconds since the epoch: later mtimes are clamped to it (SOURCE_DATE_EPOCH, as BuildKit's rewrite-timestamp). */
  readonly sourceDateEpoch?: number;
  readonly timestampPrecision?: TimestampPrecision;
  /**
   * Which xattrs go into the tar. 'all' (default) keeps every xattr but overlay's own
   * (`trusted.overlay.*`, `user.overlay.*`) and `security.selinux` (a host label);
   * 'capability-only' keeps just `security.capability`, as containerd and BuildKit do.
   */
  readonly xattrs?: 'all' | 'capability-only';
}

const READ_CHUNK = 256 * 1024;
/** Files up to this size are read whole, a directory's worth at a time (SmallFileReader); bigger ones stream. */
const SMALL_FILE_LIMIT = 1024 * 1024;
/**
 * The tar is yielded in chunks of this size: gzip's block size, so compression
 * takes each chunk as one of its blocks without copying it (gzipParallel).
 */
const OUTPUT_BATCH = DEFAULT_GZIP_BLOCK_SIZE;
/** Tar bodies are padded with zeros to a whole number of 512-byte blocks. */
const TAR_BLOCK = 512;
const OVERLAY_XATTR = /^(trusted|user)\.overlay\./;

interface DirectoryChild {
  readonly name: string;
  readonly path: string;
  readonly stats: ScannedEntry;
  readonly xattrs: ReadonlyMap<string, Buffer>;
}

/** A readable byte stream of the layer tar of `upperDir`. */
export function upperDirToTar(upperDir: string, options: UpperToTarOptions): Readable {
  return Readable.from(upperDirTarChunks(upperDir, options), { objectMode: false });
}

/**
 * The layer tar of `upperDir` as the chunks it is made in: whole ChunkWriter
 * chunks of gzip's block size (the last shorter), never written again, each
 * owning its buffer, which a stream could merge or split.
 */
export function upperDirTarChunks(
  upperDir: string,
  options: UpperToTarOptions,
): AsyncGenerator<Buffer> {
  return new UpperWalker(upperDir, options).tar();
}

/**
 * Walks the tree with the sync fs API in time slices (see TimeSlicer): layers
 * of thousands of small files are mostly metadata calls, where an async call
 * per stat cost several times the call itself. Small files' bodies are read a
 * batch at a time on libuv threads (SmallFileReader) while this thread stats
 * and encodes headers. The bytes are gathered into ~1 MiB chunks, so the
 * stream downstream (hashing, compression, the content store) handles a
 * hundred chunks, not 60k pieces.
 */
class UpperWalker {
  /** Inode (ScannedEntry.inodeKey) → the name its first entry was written under. */
  private readonly hardlinks = new Map<number | string, string>();
  private readonly slicer: TimeSlicer;
  private readonly out = new ChunkWriter(OUTPUT_BATCH);
  /** Read buffers of small files, used again from one directory to the next. */
  private readonly buffers = new BatchBuffers();
  private readonly logger: Logger;
  private readonly epochNs: bigint | undefined;
  private readonly root: string;
  private readonly options: UpperToTarOptions;
  private readonly fs: LayerFs;

  constructor(root: string, options: UpperToTarOptions) {
    this.root = root;
    this.options = options;
    this.fs = options.fs ?? defaultLayerFs;
    this.logger = options.logger ?? noopLogger;
    this.slicer = new TimeSlicer(options.signal);
    this.epochNs =
      options.sourceDateEpoch === undefined
        ? undefined
        : BigInt(Math.floor(options.sourceDateEpoch)) * NS_PER_SECOND;
  }

  async *tar(): AsyncGenerator<Buffer> {
    throwIfAborted(this.options.signal);
    yield* this.directory(this.root, '');
    this.out.write(END_OF_ARCHIVE);
    yield* this.out.takeAll();
  }

  /** Yields the chunks filled so far, and lets the event loop run between slices. */
  private async *flushIfFull(): AsyncGenerator<Buffer> {
    yield* this.out.takeFull();
    if (this.slicer.due()) await this.slicer.pause();
  }

  private header(entry: TarEntry): void {
    const precision = this.options.timestampPrecision;
    writeEntryHeader(
      entry,
      this.out,
      precision === undefined ? {} : { timestampPrecision: precision },
    );
  }

  private marker(name: string): void {
    this.header({
      name,
      type: 'file',
      mode: 0,
      uid: 0,
      gid: 0,
      size: 0,
      mtimeNs: 0n,
      linkname: '',
      devmajor: 0,
      devminor: 0,
      xattrs: new Map(),
    });
  }

  private async *directory(path: string, prefix: string): AsyncGenerator<Buffer> {
    // One native call lists the directory with every entry's lstat and whether it has
    // xattrs (most have none, and then none are listed or read).
    const entries = this.fs.scanDirectory(path, { xattrs: true }).entries().sort(byUtf8Name);
    const children: DirectoryChild[] = [];
    const whiteouts: string[] = [];
    for (const stats of entries) {
      const name = stats.name;
      if (!stats.nameIsUtf8) throw sourceError(`${prefix}${name} is not a valid UTF-8 name`, path);
      const childPath = `${path}/${name}`;
      const xattrs = stats.xattrBytes > 0 ? this.readXattrs(childPath) : NO_XATTRS;
      if (isWhiteout(stats, xattrs)) whiteouts.push(name);
      else children.push({ name, path: childPath, stats, xattrs });
    }
    for (const name of whiteouts) this.marker(`${prefix}${WHITEOUT_PREFIX}${name}`);
    const small: SmallFile[] = [];
    const smallIndex = new Map<DirectoryChild, number>();
    for (const child of children) {
      if (child.stats.isFile() && child.stats.size <= SMALL_FILE_LIMIT) {
        smallIndex.set(child, small.length);
        small.push({ name: child.name, size: child.stats.size });
      }
    }
    const reader = new SmallFileReader(this.fs, path, small, this.buffers);
    try {
      for (const child of children) {
        const index = smallIndex.get(child);
        const body = index === undefined ? undefined : () => reader.body(index);
        yield* this.child(child, `${prefix}${child.name}`, body);
        yield* this.flushIfFull();
      }
    } finally {
      await reader.close();
    }
  }

  /** `smallBody` reads the entry's content when it is a small file (SmallFileReader). */
  private async *child(
    entry: DirectoryChild,
    name: string,
    smallBody: (() => Promise<Buffer>) | undefined,
  ): AsyncGenerator<Buffer> {
    const { path, stats, xattrs: rawXattrs } = entry;
    if (rawXattrs.size > 0) refuseOverlayIndirection(rawXattrs, name, path);
    const base = {
      name,
      mode: stats.mode & 0o7777,
      uid: stats.uid,
      gid: stats.gid,
      size: 0,
      mtimeNs: this.clamp(BigInt(stats.mtimeSec) * NS_PER_SECOND + BigInt(stats.mtimeNsec)),
      linkname: '',
      devmajor: 0,
      devminor: 0,
      xattrs: this.keptXattrs(rawXattrs),
    };
    if (stats.isDirectory()) {
      this.header({ ...base, type: 'directory' });
      if (isOpaque(rawXattrs)) this.marker(`${name}/${OPAQUE_MARKER}`);
      yield* this.directory(path, `${name}/`);
      return;
    }
    // Files linked from an earlier snapshot (COPY's FileReuse) all have links: the map
    // holds every one of them, so its key must be cheap.
    if (!stats.isDirectory() && stats.nlink > 1) {
      const key = stats.inodeKey;
      const first = this.hardlinks.get(key);
      if (first !== undefined) {
        this.header({ ...base, type: 'hardlink', linkname: first });
        return;
      }
      this.hardlinks.set(key, name);
    }
    if (stats.isFile()) {
      const size = stats.size;
      this.header({ ...base, type: 'file', size });
      if (smallBody !== undefined) {
        try {
          this.out.write(await smallBody());
        } catch (error) {
          if (error instanceof SizeChanged) throw sourceError(`${name} ${error.message}`, path);
          throw error;
        }
      } else {
        yield* this.content(path, name, size);
      }
      this.out.zeros((TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK);
    } else if (stats.isSymbolicLink()) {
      const target = readlinkSync(path, { encoding: 'buffer' });
      const linkname = target.toString('utf8');
      if (!Buffer.from(linkname, 'utf8').equals(target)) {
        throw sourceError(`the target of symlink ${name} is not valid UTF-8`, path);
      }
      this.header({ ...base, type: 'symlink', linkname });
    } else if (stats.isCharacterDevice() || stats.isBlockDevice()) {
      const type = stats.isCharacterDevice() ? 'char' : 'block';
      this.header({ ...base, type, devmajor: stats.rdevMajor, devminor: stats.rdevMinor });
    } else if (stats.isFIFO()) {
      this.header({ ...base, type: 'fifo' });
    } else {
      // Sockets cannot be carried by a tar; containerd and moby skip them as well.
      this.logger.debug('skipping socket in upper directory', { name });
    }
  }

  private async *content(path: string, name: string, size: number): AsyncGenerator<Buffer> {
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      let remaining = size;
      while (remaining > 0) {
        throwIfAborted(this.options.signal);
        // Read in place, so the output keeps its whole chunks (see ChunkWriter).
        const region = this.out.reserveUpTo(Math.min(READ_CHUNK, remaining));
        const { bytesRead } = await handle.read(region, 0, region.length, null);
        if (bytesRead === 0) throw sourceError(`${name} shrank while it was read`, path);
        this.out.commit(bytesRead);
        remaining -= bytesRead;
        yield* this.out.takeFull();
      }
      const { bytesRead } = await handle.read(Buffer.alloc(1), 0, 1, null);
      if (bytesRead !== 0) throw sourceError(`${name} grew while it was read`, path);
    } finally {
      await handle.close();
    }
  }

  private clamp(mtimeNs: bigint): bigint {
    return this.epochNs !== undefined && mtimeNs > this.epochNs ? this.epochNs : mtimeNs;
  }

  private readXattrs(path: string): Map<string, Buffer> {
    const xattrs = new Map<string, Buffer>();
    for (const key of this.fs.llistxattr(path).sort()) {
      const value = this.fs.lgetxattr(path, key);
      if (value !== undefined) xattrs.set(key, value);
    }
    return xattrs;
  }

  private keptXattrs(xattrs: ReadonlyMap<string, Buffer>): ReadonlyMap<string, Buffer> {
    if (xattrs.size === 0) return NO_XATTRS;
    const kept = new Map<string, Buffer>();
    for (const [key, value] of xattrs) {
      if (OVERLAY_XATTR.test(key) || key === 'security.selinux') continue;
      if (this.options.xattrs === 'capability-only' && key !== 'security.capability') continue;
      kept.set(key, value);
    }
    return kept;
  }
}

/** Redirect and metacopy entries point at lower layers' files: a layer of its own cannot carry them. */
function refuseOverlayIndirection(
  xattrs: ReadonlyMap<string, Buffer>,
  name: string,
  path: string,
): void {
  for (const key of ['redirect', 'metacopy']) {
    if (xattrs.has(`trusted.overlay.${key}`) || xattrs.has(`user.overlay.${key}`)) {
      throw sourceError(`${name} carries the overlay ${key} xattr`, path);
    }
  }
}

/**
 * Overlay's whiteouts: a 0/0 character device, or (kernels 6.7+, in layers prepared for
 * nesting) an empty regular file carrying the overlay whiteout xattr.
 */
function isWhiteout(stats: ScannedEntry, xattrs: ReadonlyMap<string, Buffer>): boolean {
  if (stats.isCharacterDevice() && stats.rdevMajor === 0 && stats.rdevMinor === 0) return true;
  return (
    stats.isFile() &&
    stats.size === 0 &&
    (xattrs.has('trusted.overlay.whiteout') || xattrs.has('user.overlay.whiteout'))
  );
}

/** `y` only: since 6.7 overlay also writes `x`, meaning "has whiteouts", which is not opaque. */
function isOpaque(xattrs: ReadonlyMap<string, Buffer>): boolean {
  return ['trusted.overlay.opaque', 'user.overlay.opaque'].some(
    (key) => xattrs.get(key)?.toString('latin1') === 'y',
  );
}

/** Tar order: by the names' UTF-8 bytes, which is code point order (not UTF-16's). */
function byUtf8Name(a: ScannedEntry, b: ScannedEntry): number {
  const x = a.name;
  const y = b.name;
  if (!SURROGATE.test(x) && !SURROGATE.test(y)) return x < y ? -1 : x > y ? 1 : 0;
  return Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8'));
}

const SURROGATE = /[\uD800-\uDFFF]/;
const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();

function sourceError(message: string, path: string): TbuildError {
  return new TbuildError('TB_LAYER_SOURCE', `cannot make a layer tar: ${message}`, {
    details: { path },
  });
}
