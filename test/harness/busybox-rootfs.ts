import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The users and groups of the busybox rootfs, for tests of USER resolution. */
export const BUSYBOX_PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'alice:x:1000:1000:Alice:/home/alice:/bin/sh',
  'bob:x:1001:1001:Bob:/home/bob:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
].join('\n');
export const BUSYBOX_GROUP = [
  'root:x:0:',
  'alice:x:1000:',
  'bob:x:1001:',
  'staff:x:50:alice,bob',
  'audio:x:29:alice',
  'nogroup:x:65534:',
].join('\n');

/**
 * Builds a minimal root filesystem from Debian's static /bin/busybox: the binary,
 * a symlink for every applet at its usual path (`busybox --list-full`), /etc/passwd
 * and /etc/group with a few users, and empty /tmp, /root and /home/alice.
 * Returns the directory; the caller removes it.
 */
export function buildBusyboxRootfs(parent = tmpdir()): string {
  const root = mkdtempSync(join(parent, 'busybox-'));
  for (const dir of ['bin', 'etc', 'tmp', 'root', 'home/alice', 'proc', 'dev', 'sys']) {
    mkdirSync(join(root, dir), { recursive: true });
  }
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
  execFileSync('chmod', ['0755', join(root, 'bin', 'busybox')]);
  execFileSync('chmod', ['1777', join(root, 'tmp')]);
  const applets = execFileSync('/bin/busybox', ['--list-full'], { encoding: 'utf8' });
  for (const applet of applets.split('\n').filter((line) => line !== '')) {
    const path = join(root, applet);
    if (existsSync(path)) continue;
    mkdirSync(dirname(path), { recursive: true });
    symlinkSync('/bin/busybox', path);
  }
  writeFileSync(join(root, 'etc', 'passwd'), BUSYBOX_PASSWD + '\n');
  writeFileSync(join(root, 'etc', 'group'), BUSYBOX_GROUP + '\n');
  execFileSync('chown', ['1000:1000', join(root, 'home', 'alice')]);
  return root;
}

/** A fresh upper/work pair for one step, under `parent`. */
export function freshOverlayDirs(parent: string): { upperDir: string; workDir: string } {
  const dir = mkdtempSync(join(parent, 'step-'));
  mkdirSync(join(dir, 'u'));
  mkdirSync(join(dir, 'w'));
  return { upperDir: join(dir, 'u'), workDir: join(dir, 'w') };
}

export function removeTree(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
