/** The lower tree and the changes made over it, shared by the layer tests. */
import {
  appendFileSync,
  chmodSync,
  chownSync,
  linkSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { nativeFs } from '../../../runtime/index.js';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
/** VFS_CAP_REVISION_2 with cap_setuid (bit 7: a 0x80 byte) and cap_net_raw, effective. */
const CAPABILITY = Buffer.from('0100000280200000000000000000000000000000', 'hex');
export const T = 1_600_000_000;

export function buildLower(lower: string): void {
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
export function change(merged: string): void {
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
