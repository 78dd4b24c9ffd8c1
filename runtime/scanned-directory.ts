import { createHash } from 'node:crypto';
import { TbuildError } from '../core/index.js';
import type { RawScan } from './native/addon.js';

/**
 * Where each number of an entry sits in the scan's Float64Array; the same layout as
 * runtime/native/src/scan_directory.cc, whose `stride` is checked against STRIDE.
 */
const FIELD = {
  mode: 0,
  nlink: 1,
  uid: 2,
  gid: 3,
  size: 4,
  devHi: 5,
  devLo: 6,
  inoHi: 7,
  inoLo: 8,
  rdevMajor: 9,
  rdevMinor: 10,
  atimeSec: 11,
  atimeNsec: 12,
  mtimeSec: 13,
  mtimeNsec: 14,
  ctimeSec: 15,
  ctimeNsec: 16,
  xattrBytes: 17,
  flags: 18,
} as const;
const STRIDE = 19;
const FLAG_NAME_NOT_UTF8 = 1;

const S_IFMT = 0o170000;
const TWO_32 = 0x1_0000_0000;

/**
 * One directory as read by {@link NativeFs.scanDirectory}: the names in readdir order
 * and each entry's lstat, kept as numbers in one array until a field is asked for.
 */
export class ScannedDirectory {
  /** The directory as given to scanDirectory. */
  readonly path: string;
  /**
   * Entry names in readdir order, without `.` and `..`, decoded as readdirSync does: a
   * name that is not valid UTF-8 has U+FFFD in place of the bad bytes and cannot be
   * used as a path (see {@link ScannedEntry.nameIsUtf8}).
   */
  readonly names: readonly string[];
  readonly #stats: Float64Array;

  constructor(path: string, raw: RawScan) {
    if (raw.stride !== STRIDE || raw.stats.length !== raw.names.length * STRIDE) {
      throw new TbuildError(
        'TB_RUNTIME_NATIVE_MISSING',
        `the native build does not match this tbuild (scanDirectory stride ${String(raw.stride)}, expected ${String(STRIDE)})`,
        { hint: 'run `npx node-gyp rebuild --directory=runtime/native`' },
      );
    }
    this.path = path;
    this.names = raw.names;
    this.#stats = raw.stats;
  }

  get count(): number {
    return this.names.length;
  }

  /** Entry `index` (0 ≤ index < count) in readdir order. */
  entry(index: number): ScannedEntry {
    const name = this.names[index];
    if (name === undefined || !Number.isInteger(index)) {
      throw new TbuildError(
        'TB_INTERNAL',
        `scanned entry ${String(index)} of ${this.path} is out of range (${String(this.count)} entries)`,
      );
    }
    return new ScannedEntry(name, this.#stats, index * STRIDE);
  }

  /** Every entry in readdir order. */
  entries(): ScannedEntry[] {
    return this.names.map((name, index) => new ScannedEntry(name, this.#stats, index * STRIDE));
  }

  /**
   * A digest of the whole listing: every name and every lstat field but the access
   * time and link count, which reading a file or linking it elsewhere changes without
   * changing the file. The same fingerprint means no entry was added, removed,
   * renamed, written (mtime, ctime), chmod-ed or chown-ed: for a whole directory at
   * once, what a stat identity (dev, ino, size, mtime, ctime) says of one file.
   */
  fingerprint(): string {
    const numbers = this.#stats.slice();
    for (let at = 0; at < numbers.length; at += STRIDE) {
      numbers[at + FIELD.nlink] = 0;
      numbers[at + FIELD.atimeSec] = 0;
      numbers[at + FIELD.atimeNsec] = 0;
    }
    // Names cannot hold NUL, so the joined names end where the numbers start.
    return createHash('sha256')
      .update(this.names.join('\0'))
      .update('\0\0')
      .update(numbers)
      .digest('hex');
  }

  /** Every entry ordered by name as `names.slice().sort()` orders them (UTF-16 code units). */
  sortedEntries(): ScannedEntry[] {
    return this.entries().sort(byName);
  }
}

function byName(a: ScannedEntry, b: ScannedEntry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The lstat of one scanned entry, read by name from the directory's numbers. Fields mean
 * what they mean on node:fs BigIntStats; the 64-bit and nanosecond ones are exact
 * decimal strings equal to `String(bigintStats.field)`, so no BigInt is made per entry.
 */
export class ScannedEntry {
  readonly name: string;
  readonly #stats: Float64Array;
  readonly #at: number;

  constructor(name: string, stats: Float64Array, at: number) {
    this.name = name;
    this.#stats = stats;
    this.#at = at;
  }

  #field(field: number): number {
    return this.#stats[this.#at + field] ?? 0;
  }

  /** False when the on-disk name is not valid UTF-8 (`name` then has U+FFFD for the bad bytes). */
  get nameIsUtf8(): boolean {
    return (this.#field(FIELD.flags) & FLAG_NAME_NOT_UTF8) === 0;
  }

  /** st_mode: file type and permission bits, as Stats.mode. */
  get mode(): number {
    return this.#field(FIELD.mode);
  }
  get nlink(): number {
    return this.#field(FIELD.nlink);
  }
  get uid(): number {
    return this.#field(FIELD.uid);
  }
  get gid(): number {
    return this.#field(FIELD.gid);
  }
  get size(): number {
    return this.#field(FIELD.size);
  }
  /** st_dev in decimal, equal to `String(bigintStats.dev)`. */
  get dev(): string {
    return uint64Decimal(this.#field(FIELD.devHi), this.#field(FIELD.devLo));
  }
  /** st_ino in decimal, equal to `String(bigintStats.ino)`. */
  get ino(): string {
    return uint64Decimal(this.#field(FIELD.inoHi), this.#field(FIELD.inoLo));
  }
  /**
   * Equal for two entries exactly when they are the same inode: one number when dev
   * and ino fit it exactly (dev < 2^21, ino < 2^32: every ext4 or overlay file),
   * otherwise the decimal pair. Cheaper than joining `dev` and `ino`, for maps of
   * thousands of hard links.
   */
  get inodeKey(): number | string {
    const devLo = this.#field(FIELD.devLo);
    if (this.#field(FIELD.devHi) === 0 && devLo < 2 ** 21 && this.#field(FIELD.inoHi) === 0) {
      return devLo * TWO_32 + this.#field(FIELD.inoLo);
    }
    return `${this.dev}:${this.ino}`;
  }
  /** st_rdev as glibc major() of it; 0 for anything but a device. */
  get rdevMajor(): number {
    return this.#field(FIELD.rdevMajor);
  }
  get rdevMinor(): number {
    return this.#field(FIELD.rdevMinor);
  }
  /** st_rdev itself (glibc makedev of major and minor), equal to `Number(bigintStats.rdev)`. */
  get rdev(): number {
    const major = this.rdevMajor;
    const minor = this.rdevMinor;
    return (
      Math.floor(major / 0x1000) * 2 ** 44 +
      Math.floor(minor / 0x100) * 2 ** 20 +
      (major % 0x1000) * 0x100 +
      (minor % 0x100)
    );
  }
  get atimeSec(): number {
    return this.#field(FIELD.atimeSec);
  }
  /** Nanoseconds within {@link atimeSec}, 0 to 999999999 (also for times before 1970). */
  get atimeNsec(): number {
    return this.#field(FIELD.atimeNsec);
  }
  get mtimeSec(): number {
    return this.#field(FIELD.mtimeSec);
  }
  get mtimeNsec(): number {
    return this.#field(FIELD.mtimeNsec);
  }
  get ctimeSec(): number {
    return this.#field(FIELD.ctimeSec);
  }
  get ctimeNsec(): number {
    return this.#field(FIELD.ctimeNsec);
  }
  /** Nanoseconds since the epoch in decimal, equal to `String(bigintStats.atimeNs)`. */
  get atimeNs(): string {
    return nanosecondsDecimal(this.atimeSec, this.atimeNsec);
  }
  get mtimeNs(): string {
    return nanosecondsDecimal(this.mtimeSec, this.mtimeNsec);
  }
  get ctimeNs(): string {
    return nanosecondsDecimal(this.ctimeSec, this.ctimeNsec);
  }
  /**
   * Size of the entry's xattr name list (llistxattr), 0 when it has none. Only measured
   * when the scan asked for xattrs (always 0 otherwise): list and read them only when > 0.
   */
  get xattrBytes(): number {
    return this.#field(FIELD.xattrBytes);
  }

  isFile(): boolean {
    return this.#type() === 0o100000;
  }
  isDirectory(): boolean {
    return this.#type() === 0o040000;
  }
  isSymbolicLink(): boolean {
    return this.#type() === 0o120000;
  }
  isFIFO(): boolean {
    return this.#type() === 0o010000;
  }
  isCharacterDevice(): boolean {
    return this.#type() === 0o020000;
  }
  isBlockDevice(): boolean {
    return this.#type() === 0o060000;
  }
  isSocket(): boolean {
    return this.#type() === 0o140000;
  }

  #type(): number {
    return this.mode & S_IFMT;
  }
}

/** hi * 2^32 + lo in decimal: exact as a double below 2^53, else through BigInt (rare). */
export function uint64Decimal(hi: number, lo: number): string {
  if (hi === 0) return decimal(lo);
  if (hi < 0x20_0000) return String(hi * TWO_32 + lo);
  return String((BigInt(hi) << 32n) | BigInt(lo));
}

/**
 * String(value) for an integer read from the Float64Array. `| 0` makes a small one a
 * Smi first, whose printing V8 caches: a third of the cost before the walk is optimized.
 */
function decimal(value: number): string {
  return value >= 0 && value < 0x8000_0000 ? String(value | 0) : String(value);
}

/**
 * sec * 1e9 + nsec in decimal without BigInt (nsec is 0 to 999999999, also when sec is
 * negative), as Node computes BigIntStats' *timeNs.
 */
export function nanosecondsDecimal(sec: number, nsec: number): string {
  if (sec >= 0) return sec === 0 ? decimal(nsec) : `${decimal(sec)}${pad9(nsec)}`;
  if (nsec === 0) return `${String(sec)}000000000`;
  // -|sec| s + nsec ns = -((|sec| - 1) s + (1e9 - nsec) ns)
  const whole = -sec - 1;
  const rest = 1_000_000_000 - nsec;
  return whole === 0 ? `-${String(rest)}` : `-${String(whole)}${pad9(rest)}`;
}

function pad9(value: number): string {
  return decimal(value).padStart(9, '0');
}
