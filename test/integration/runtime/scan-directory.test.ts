/** scanDirectory on what only root can make: device nodes with minors past 8 bits, other owners. */
import { chownSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nativeFs } from '../../../runtime/index.js';
import { requires } from '../../harness/index.js';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tbuild-scan-root-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('nativeFs.scanDirectory as root', () => {
  it('reports device numbers as lstat does, with glibc major and minor', (ctx) => {
    requires(ctx, 'root');
    const devices = [
      ['whiteout', S_IFCHR, 0, 0],
      ['char', S_IFCHR | 0o600, 4095, 0xfffff], // the largest kernel major and minor
      ['block', S_IFBLK | 0o660, 7, 0x12345], // a minor that needs the high bits
    ] as const;
    for (const [name, type, major, minor] of devices)
      nativeFs.mknod(join(root, name), type, major, minor);
    const scan = nativeFs.scanDirectory(root);
    for (const [name, , major, minor] of devices) {
      const entry = scan.entry(scan.names.indexOf(name));
      const stats = lstatSync(join(root, name), { bigint: true });
      expect([entry.rdevMajor, entry.rdevMinor]).toEqual([major, minor]);
      expect(entry.rdev).toBe(Number(stats.rdev));
      expect(entry.mode).toBe(Number(stats.mode));
      expect([entry.isCharacterDevice(), entry.isBlockDevice()]).toEqual([
        stats.isCharacterDevice(),
        stats.isBlockDevice(),
      ]);
    }
  });

  it('reports owners other than the caller', (ctx) => {
    requires(ctx, 'root');
    writeFileSync(join(root, 'owned'), '');
    chownSync(join(root, 'owned'), 100_000, 65_534);
    const entry = nativeFs.scanDirectory(root).entry(0);
    expect([entry.uid, entry.gid]).toEqual([100_000, 65_534]);
  });
});
