/**
 * Real overlay round trips: lower tree → overlay mount → changes in the merged view →
 * upperdir → layer tar → applied into a fresh directory, which must equal the upperdir,
 * and stacked on the lower must give the same merged view as the original.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  appendFileSync,
  unlinkSync,
} from 'node:fs';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { neverAborted } from '../../../core/index.js';
import { nativeFs } from '../../../runtime/index.js';
import { applyLayerTar, upperDirToTar } from '../../../worker/index.js';
import { requires } from '../../harness/index.js';
import { collect, listTree, mountOverlay, unmount } from './tree.js';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
/** VFS_CAP_REVISION_2 with cap_setuid (bit 7: a 0x80 byte) and cap_net_raw, effective. */
const CAPABILITY = Buffer.from('0100000280200000000000000000000000000000', 'hex');
const T = 1_600_000_000;

let base: string;
const mounted: string[] = [];

beforeEach(() => {
  base = mkdtempSync('/var/tmp/tbuild-layers-');
});

afterEach(() => {
  for (const target of mounted.splice(0).reverse()) unmount(target);
  rmSync(base, { recursive: true, force: true });
});

function mount(target: string, lowers: string[], upper?: { upper: string; work: string }): void {
  mountOverlay(target, lowers, upper);
  mounted.push(target);
}

function umountLast(): void {
  const target = mounted.pop();
  if (target !== undefined) unmount(target);
}

function buildLower(lower: string): void {
  for (const dir of ['etc', 'bin', 'var/cache/apt', 'opt/app/lib', 'keep']) {
    mkdirSync(`${lower}/${dir}`, { recursive: true });
  }
  writeFileSync(`${lower}/etc/config`, 'a=1\n');
  writeFileSync(`${lower}/etc/old`, 'old\n');
  writeFileSync(`${lower}/bin/tool`, '#!/bin/sh\n');
  writeFileSync(`${lower}/bin/owned`, 'x');
  writeFileSync(`${lower}/var/cache/apt/pkgcache.bin`, 'cache');
  writeFileSync(`${lower}/opt/app/lib/old.so`, 'elf');
  writeFileSync(`${lower}/opt/app/README`, 'v1');
  writeFileSync(`${lower}/keep/untouched`, 'same');
}

/** Every kind of change a RUN step can make, done through the merged view. */
function change(merged: string): void {
  writeFileSync(`${merged}/new.txt`, 'new file\n');
  mkdirSync(`${merged}/newdir/sub`, { recursive: true });
  writeFileSync(`${merged}/newdir/sub/file`, Buffer.alloc(70_000, 1));
  appendFileSync(`${merged}/etc/config`, 'b=2\n');
  unlinkSync(`${merged}/etc/old`);
  rmSync(`${merged}/var/cache`, { recursive: true });
  rmSync(`${merged}/opt/app`, { recursive: true });
  mkdirSync(`${merged}/opt/app`);
  writeFileSync(`${merged}/opt/app/fresh`, 'v2');
  chmodSync(`${merged}/bin/tool`, 0o700);
  chownSync(`${merged}/bin/owned`, 1234, 5678);
  writeFileSync(`${merged}/bin/su`, 'suid');
  chmodSync(`${merged}/bin/su`, 0o4755);
  mkdirSync(`${merged}/shared`);
  chownSync(`${merged}/shared`, 0, 50);
  chmodSync(`${merged}/shared`, 0o2775);
  mkdirSync(`${merged}/tmp`);
  chmodSync(`${merged}/tmp`, 0o1777);
  symlinkSync('etc/config', `${merged}/link-rel`);
  symlinkSync('/etc/config', `${merged}/link-abs`);
  symlinkSync(`/${'long/'.repeat(30)}target`, `${merged}/link-long`);
  mkdirSync(`${merged}/hl`);
  writeFileSync(`${merged}/hl/a`, 'linked');
  linkSync(`${merged}/hl/a`, `${merged}/hl/b`);
  linkSync(`${merged}/hl/a`, `${merged}/hl/c`);
  nativeFs.mknod(`${merged}/fifo`, S_IFIFO | 0o644, 0, 0);
  mkdirSync(`${merged}/dev`);
  nativeFs.mknod(`${merged}/dev/null`, S_IFCHR | 0o666, 1, 3);
  nativeFs.mknod(`${merged}/dev/loop0`, S_IFBLK | 0o660, 7, 0);
  writeFileSync(`${merged}/bin/ping`, 'ping');
  chmodSync(`${merged}/bin/ping`, 0o755);
  nativeFs.lsetxattr(`${merged}/bin/ping`, 'security.capability', CAPABILITY);
  nativeFs.lsetxattr(`${merged}/new.txt`, 'user.comment', Buffer.from('hello'));
  const deep = `${merged}/${'d'.repeat(60)}/${'e'.repeat(60)}`;
  mkdirSync(deep, { recursive: true });
  writeFileSync(`${deep}/${'f'.repeat(90)}`, 'deep');
  writeFileSync(`${merged}/ünïcödé`, 'utf8');
  utimesSync(`${merged}/new.txt`, T, T + 7);
}

async function roundTrip(
  dirs: Record<'lower' | 'upper' | 'work' | 'merged', string>,
): Promise<Buffer> {
  buildLower(dirs.lower);
  mount(dirs.merged, [dirs.lower], { upper: dirs.upper, work: dirs.work });
  change(dirs.merged);
  umountLast();
  return collect(upperDirToTar(dirs.upper, { signal: neverAborted }));
}

function layout(): Record<'lower' | 'upper' | 'work' | 'merged' | 'applied', string> {
  const dirs = {
    lower: `${base}/lower`,
    upper: `${base}/upper`,
    work: `${base}/work`,
    merged: `${base}/merged`,
    applied: `${base}/applied`,
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir);
  return dirs;
}

describe('layer round trip through a real overlay', () => {
  it('applies to exactly the upper directory, and merges to the same view', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const dirs = layout();
    const tar = await roundTrip(dirs);
    const result = await applyLayerTar(Readable.from([tar]), dirs.applied, {
      signal: neverAborted,
    });
    expect(result.entries).toBeGreaterThan(30);

    const expected = listTree(dirs.upper, { mtimeSeconds: true, skipWhiteoutTimes: true });
    const applied = listTree(dirs.applied, { mtimeSeconds: true, skipWhiteoutTimes: true });
    expect(applied).toEqual(expected);
    // The listing really covers what the test is about.
    const text = expected.join('\n');
    expect(text).toMatch(/^etc\/old \| char \| 0 \| 0:0 \| - \| - \| - \| 0,0 /m);
    expect(text).toMatch(/^var\/cache \| char /m);
    expect(text).toMatch(/^opt\/app \| dir \| .* \| opaque \|/m);
    expect(text).toMatch(/^bin\/su \| file \| 4755 /m);
    expect(text).toMatch(/^bin\/ping \| .*security\.capability=0100000280200000/m);
    expect(text).toMatch(/^hl\/c \| .* => hl\/a$/m);
    expect(text).toMatch(/^dev\/loop0 \| block \| 640 \| 0:0 \| - \| - \| - \| 7,0 /m);
    expect(text).toMatch(/^new\.txt \| .* \| 1600000007 \| $/m);

    mount(`${base}/view-original`, [dirs.upper, dirs.lower]);
    mount(`${base}/view-applied`, [dirs.applied, dirs.lower]);
    const original = listTree(`${base}/view-original`, { mtimeSeconds: true });
    expect(listTree(`${base}/view-applied`, { mtimeSeconds: true })).toEqual(original);
    expect(original.join('\n')).not.toMatch(/etc\/old|var\/cache|old\.so|README/);
    expect(original.join('\n')).toMatch(/^keep\/untouched \| file /m);
  });

  it('is listed by GNU tar with whiteouts, the opaque marker, links and the capability', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const dirs = layout();
    const tar = await roundTrip(dirs);
    writeFileSync(`${base}/layer.tar`, tar);
    const listing = execFileSync(
      'tar',
      ['--xattrs', '--xattrs-include=*', '-tvvf', `${base}/layer.tar`],
      {
        encoding: 'utf8',
        env: { ...process.env, LC_ALL: 'C.UTF-8' },
      },
    );
    expect(listing).toMatch(/ etc\/\.wh\.old\n/);
    expect(listing).toMatch(/ var\/\.wh\.cache\n/);
    expect(listing).toMatch(/ opt\/app\/\n.* opt\/app\/\.wh\.\.wh\.\.opq\n.* opt\/app\/fresh\n/);
    expect(listing).toMatch(/ hl\/b link to hl\/a\n/);
    expect(listing).toMatch(/-rwxr-xr-x\* .* bin\/ping\n +x: 20 security\.capability\n/);
    expect(listing).not.toMatch(/trusted\.overlay/);
  });

  it('gives byte-identical tars for the same tree, and clamps mtimes to SOURCE_DATE_EPOCH', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const dirs = layout();
    const first = await roundTrip(dirs);
    const again = await collect(upperDirToTar(dirs.upper, { signal: neverAborted }));
    expect(again.equals(first)).toBe(true);

    // A copy made by GNU tar (other inode numbers, other creation order) gives the same bytes.
    const copy = `${base}/copy`;
    mkdirSync(copy);
    execFileSync('sh', [
      '-c',
      `tar --xattrs --xattrs-include='*' -C ${dirs.upper} -cf - . | tar --xattrs --xattrs-include='*' -C ${copy} -xpf -`,
    ]);
    execFileSync('sh', [
      '-c',
      `cd ${dirs.upper} && find . -depth -exec touch -h -r {} ${copy}/{} \\;`,
    ]);
    const copied = await collect(upperDirToTar(copy, { signal: neverAborted }));
    expect(copied.equals(first)).toBe(true);

    const epoch = T + 3;
    const clamped = await collect(
      upperDirToTar(dirs.upper, { signal: neverAborted, sourceDateEpoch: epoch }),
    );
    const applied = `${base}/clamped`;
    mkdirSync(applied);
    await applyLayerTar(Readable.from([clamped]), applied, { signal: neverAborted });
    const mtimes = listTree(applied).map((line) => line.split(' | ')[9] ?? '');
    expect(mtimes.filter((mtime) => BigInt(mtime) > BigInt(epoch) * 1_000_000_000n)).toEqual([]);
    expect(mtimes).toContain(`${String(epoch)}000000000`);
  });
});
