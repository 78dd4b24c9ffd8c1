import {
  chmodSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nativeFs, ScannedDirectory, type ScannedEntry } from './index.js';
import { loadAddon } from './native/addon.js';
import { nanosecondsDecimal, uint64Decimal } from './scanned-directory.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tbuild-scan-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function find(scan: ScannedDirectory, name: string): ScannedEntry {
  const index = scan.names.indexOf(name);
  expect(index, `${name} in ${scan.names.join(',')}`).toBeGreaterThanOrEqual(0);
  return scan.entry(index);
}

/** Every field the scan reports, as lstatSync(…, {bigint: true}) reports it. */
function expectSameAsLstat(entry: ScannedEntry, path: string): void {
  const stats = lstatSync(path, { bigint: true });
  const seen = {
    mode: entry.mode,
    nlink: entry.nlink,
    uid: entry.uid,
    gid: entry.gid,
    size: entry.size,
    dev: entry.dev,
    ino: entry.ino,
    rdev: entry.rdev,
    atimeNs: entry.atimeNs,
    mtimeNs: entry.mtimeNs,
    ctimeNs: entry.ctimeNs,
    types: [
      entry.isFile(),
      entry.isDirectory(),
      entry.isSymbolicLink(),
      entry.isFIFO(),
      entry.isCharacterDevice(),
      entry.isBlockDevice(),
      entry.isSocket(),
    ],
  };
  expect(seen).toEqual({
    mode: Number(stats.mode),
    nlink: Number(stats.nlink),
    uid: Number(stats.uid),
    gid: Number(stats.gid),
    size: Number(stats.size),
    dev: String(stats.dev),
    ino: String(stats.ino),
    rdev: Number(stats.rdev),
    atimeNs: String(stats.atimeNs),
    mtimeNs: String(stats.mtimeNs),
    ctimeNs: String(stats.ctimeNs),
    types: [
      stats.isFile(),
      stats.isDirectory(),
      stats.isSymbolicLink(),
      stats.isFIFO(),
      stats.isCharacterDevice(),
      stats.isBlockDevice(),
      stats.isSocket(),
    ],
  });
}

describe('nativeFs.scanDirectory', () => {
  it('reports every entry as lstat does: files, dirs, symlinks, fifos', () => {
    writeFileSync(join(root, 'file'), 'hello');
    mkdirSync(join(root, 'dir'));
    symlinkSync('file', join(root, 'link'));
    symlinkSync('/nowhere', join(root, 'dangling'));
    nativeFs.mknod(join(root, 'fifo'), 0o010640, 0, 0);
    const scan = nativeFs.scanDirectory(root);
    expect(scan.path).toBe(root);
    expect(scan.count).toBe(5);
    expect([...scan.names].sort()).toEqual(readdirSync(root).sort());
    for (const name of scan.names) expectSameAsLstat(find(scan, name), join(root, name));
    expect(find(scan, 'file').isFile()).toBe(true);
    expect(find(scan, 'link').isSymbolicLink()).toBe(true);
    expect(find(scan, 'link').size).toBe(4);
    expect(find(scan, 'fifo').isFIFO()).toBe(true);
  });

  it('reports character devices with their major and minor', () => {
    const scan = nativeFs.scanDirectory('/dev');
    const devNull = find(scan, 'null');
    expectSameAsLstat(devNull, '/dev/null');
    expect([devNull.rdevMajor, devNull.rdevMinor]).toEqual([1, 3]);
    expect(find(scan, 'zero').rdevMinor).toBe(5);
  });

  it('gives hard links the same identity', () => {
    writeFileSync(join(root, 'a'), 'x');
    linkSync(join(root, 'a'), join(root, 'b'));
    const scan = nativeFs.scanDirectory(root);
    const [a, b] = [find(scan, 'a'), find(scan, 'b')];
    expect(b.ino).toBe(a.ino);
    expect(b.dev).toBe(a.dev);
    expect(a.nlink).toBe(2);
    expectSameAsLstat(b, join(root, 'b'));
  });

  it('keeps nanosecond times exact, before 1970 too', () => {
    // Dates, not numbers: utimes takes a negative number as "now".
    const cases: [string, Date | number][] = [
      ['recent', 1_700_000_000.123456],
      ['epoch', 0],
      ['fraction', 0.25],
      ['before', new Date(-1500)],
      ['whole-before', new Date(-86_400_000)],
    ];
    for (const [name, time] of cases) {
      writeFileSync(join(root, name), '');
      utimesSync(join(root, name), time, time);
    }
    const scan = nativeFs.scanDirectory(root);
    for (const [name] of cases) expectSameAsLstat(find(scan, name), join(root, name));
    expect(find(scan, 'before').mtimeNs).toBe('-1500000000');
    expect([find(scan, 'before').mtimeSec, find(scan, 'before').mtimeNsec]).toEqual([
      -2, 500_000_000,
    ]);
    expect(find(scan, 'fraction').mtimeNs).toBe('250000000');
  });

  it('measures xattr name lists only when asked', () => {
    writeFileSync(join(root, 'plain'), '');
    writeFileSync(join(root, 'tagged'), '');
    nativeFs.lsetxattr(join(root, 'tagged'), 'user.one', Buffer.from('1'));
    nativeFs.lsetxattr(join(root, 'tagged'), 'user.second', Buffer.from('22'));
    const listBytes = (name: string): number =>
      nativeFs.llistxattr(join(root, name)).reduce((sum, key) => sum + key.length + 1, 0);
    const scan = nativeFs.scanDirectory(root, { xattrs: true });
    expect(find(scan, 'tagged').xattrBytes).toBe(listBytes('tagged'));
    expect(find(scan, 'tagged').xattrBytes).toBeGreaterThanOrEqual(
      'user.one\0user.second\0'.length,
    );
    expect(find(scan, 'plain').xattrBytes).toBe(listBytes('plain'));
    expect(find(nativeFs.scanDirectory(root), 'tagged').xattrBytes).toBe(0);
  });

  it('flags names that are not valid UTF-8 and decodes them as readdirSync does', () => {
    const dir = Buffer.from(`${root}/`);
    const bad = [
      [0x66, 0xff, 0x6f], // a byte that never starts a sequence
      [0xc0, 0xaf], // overlong "/"
      [0xed, 0xa0, 0x80], // an encoded surrogate
      [0x61, 0xe2, 0x82], // cut short
    ];
    for (const bytes of bad) writeFileSync(Buffer.concat([dir, Buffer.from(bytes)]), '');
    writeFileSync(join(root, 'café ✓ 𝄞'), '');
    const scan = nativeFs.scanDirectory(root);
    expect([...scan.names].sort()).toEqual(readdirSync(root).sort());
    expect(scan.entries().filter((entry) => !entry.nameIsUtf8)).toHaveLength(bad.length);
    expect(find(scan, 'café ✓ 𝄞').nameIsUtf8).toBe(true);
  });

  it('orders sortedEntries as Array.prototype.sort orders names', () => {
    for (const name of ['b', 'B', 'a-1', 'a', '𝄞', 'é', '_']) writeFileSync(join(root, name), '');
    const scan = nativeFs.scanDirectory(root);
    expect(scan.sortedEntries().map((entry) => entry.name)).toEqual(readdirSync(root).sort());
  });

  it('follows a symlink given as the directory, and lists an empty one', () => {
    mkdirSync(join(root, 'real'));
    writeFileSync(join(root, 'real', 'inside'), '');
    symlinkSync('real', join(root, 'alias'));
    expect(nativeFs.scanDirectory(join(root, 'alias')).names).toEqual(['inside']);
    mkdirSync(join(root, 'empty'));
    expect(nativeFs.scanDirectory(join(root, 'empty')).count).toBe(0);
  });

  it('throws node:fs-shaped errors naming the directory', () => {
    writeFileSync(join(root, 'file'), '');
    const missing = join(root, 'missing');
    expect(() => nativeFs.scanDirectory(missing)).toThrow(
      expect.objectContaining({ code: 'ENOENT', errno: -2, syscall: 'scandir', path: missing }),
    );
    expect(() => nativeFs.scanDirectory(join(root, 'file'))).toThrow(
      expect.objectContaining({ code: 'ENOTDIR', syscall: 'scandir', path: join(root, 'file') }),
    );
  });

  it('refuses an index out of range', () => {
    writeFileSync(join(root, 'only'), '');
    const scan = nativeFs.scanDirectory(root);
    expect(scan.entry(0).name).toBe('only');
    expect(() => scan.entry(1)).toThrow(expect.objectContaining({ code: 'TB_INTERNAL' }));
  });
});

describe('ScannedEntry.inodeKey', () => {
  it('is equal for hard links of one file and differs between files', () => {
    writeFileSync(join(root, 'a'), 'a');
    writeFileSync(join(root, 'b'), 'b');
    linkSync(join(root, 'a'), join(root, 'a2'));
    const scan = nativeFs.scanDirectory(root);
    const key = (name: string): number | string => find(scan, name).inodeKey;
    expect(key('a')).toBe(key('a2'));
    expect(key('a')).not.toBe(key('b'));
    const stats = lstatSync(join(root, 'a'), { bigint: true });
    expect(key('a')).toBe(Number(stats.dev) * 2 ** 32 + Number(stats.ino));
  });
});

describe('ScannedDirectory.fingerprint', () => {
  const fingerprint = (): string => nativeFs.scanDirectory(root).fingerprint();

  it('stays while only access times change, and changes with any write, mode, owner or name', () => {
    writeFileSync(join(root, 'a'), 'hello');
    mkdirSync(join(root, 'sub'));
    const before = fingerprint();
    expect(fingerprint()).toBe(before);
    // Access times and link counts cannot be changed alone (ctime follows): change the numbers.
    const raw = loadAddon().scanDirectory(root, false);
    const numbers = raw.stats.slice();
    for (const field of [1, 11, 12]) numbers[field] = (numbers[field] ?? 0) + 7;
    expect(new ScannedDirectory(root, { ...raw, stats: numbers }).fingerprint()).toBe(before);
    numbers[13] = (numbers[13] ?? 0) + 1; // mtime seconds
    expect(new ScannedDirectory(root, { ...raw, stats: numbers }).fingerprint()).not.toBe(before);
    const changes: [string, () => void][] = [
      [
        'content',
        () => {
          writeFileSync(join(root, 'a'), 'hellO');
        },
      ],
      [
        'mode',
        () => {
          chmodSync(join(root, 'a'), 0o600);
        },
      ],
      [
        'owner',
        () => {
          lchownSync(join(root, 'a'), 1234, 1234);
        },
      ],
      [
        'mtime',
        () => {
          utimesSync(join(root, 'sub'), new Date(), new Date(1000));
        },
      ],
      [
        'name',
        () => {
          renameSync(join(root, 'a'), join(root, 'b'));
        },
      ],
      [
        'new entry',
        () => {
          writeFileSync(join(root, 'c'), '');
        },
      ],
    ];
    const seen = new Set([before]);
    for (const [what, change] of changes) {
      change();
      const after = fingerprint();
      expect(seen.has(after), what).toBe(false);
      seen.add(after);
    }
  });
});

describe('nanosecondsDecimal', () => {
  it('matches BigInt arithmetic around zero and far from it', () => {
    const cases: [number, number][] = [
      [0, 0],
      [0, 7],
      [1, 0],
      [1, 5],
      [-1, 0],
      [-1, 1],
      [-1, 999_999_999],
      [-2, 500_000_000],
      [1_700_000_000, 123_456_789],
      [-1_700_000_000, 1],
      [2 ** 40, 999_999_999],
    ];
    for (const [sec, nsec] of cases) {
      expect(nanosecondsDecimal(sec, nsec), `${String(sec)} s ${String(nsec)} ns`).toBe(
        String(BigInt(sec) * 1_000_000_000n + BigInt(nsec)),
      );
    }
  });
});

describe('uint64Decimal', () => {
  it('prints 64-bit halves exactly, past 2^53 too', () => {
    const cases: [number, number][] = [
      [0, 0],
      [0, 0x7fff_ffff],
      [0, 0x8000_0000],
      [0, 0xffff_ffff],
      [1, 0],
      [0x1f_ffff, 0xffff_ffff],
      [0x20_0000, 0],
      [0xffff_ffff, 0xffff_ffff],
    ];
    for (const [hi, lo] of cases) {
      expect(uint64Decimal(hi, lo), `${String(hi)}:${String(lo)}`).toBe(
        String((BigInt(hi) << 32n) + BigInt(lo)),
      );
    }
  });
});
