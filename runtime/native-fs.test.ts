import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nativeFs, XattrFlags } from './index.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tbuild-nativefs-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('nativeFs xattrs', () => {
  it('sets, gets, lists and removes user xattrs', () => {
    const file = join(root, 'f');
    writeFileSync(file, 'x');
    nativeFs.lsetxattr(file, 'user.tbuild', Buffer.from('value'));
    expect(nativeFs.lgetxattr(file, 'user.tbuild')?.toString()).toBe('value');
    expect(nativeFs.llistxattr(file)).toContain('user.tbuild');
    nativeFs.lremovexattr(file, 'user.tbuild');
    expect(nativeFs.lgetxattr(file, 'user.tbuild')).toBeUndefined();
    expect(nativeFs.llistxattr(file)).not.toContain('user.tbuild');
  });

  it('throws fs-shaped errors', () => {
    const file = join(root, 'f');
    writeFileSync(file, 'x');
    nativeFs.lsetxattr(file, 'user.a', Buffer.from('1'));
    expect(() => {
      nativeFs.lsetxattr(file, 'user.a', Buffer.from('2'), XattrFlags.XATTR_CREATE);
    }).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'lsetxattr', path: file }));
    expect(() => nativeFs.llistxattr(join(root, 'missing'))).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
  });
});

describe('nativeFs.mountFromDir', () => {
  it('names a directory it cannot enter, and leaves the process cwd alone', () => {
    const cwd = process.cwd();
    const missing = join(root, 'missing');
    expect(() => {
      nativeFs.mountFromDir(missing, 'overlay', join(root, 'target'), 'overlay', 0, 'lowerdir=a:b');
    }).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'chdir', path: missing }));
    expect(process.cwd()).toBe(cwd);
  });
});

describe('nativeFs.mknod', () => {
  it('makes a fifo', () => {
    const path = join(root, 'fifo');
    nativeFs.mknod(path, 0o010644, 0, 0);
    expect(statSync(path).isFIFO()).toBe(true);
  });
});

describe.each([false, true])('in-root resolution (forceWalk=%s)', (forceWalk) => {
  beforeEach(() => {
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc', 'passwd'), 'inside');
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    symlinkSync('/etc', join(root, 'abs'));
    symlinkSync('../../../../../../etc', join(root, 'a', 'b', 'up'));
    symlinkSync('passwd', join(root, 'etc', 'rel'));
  });

  it('keeps absolute symlinks inside the root', () => {
    expect(nativeFs.resolveInRoot(root, 'abs/passwd', { forceWalk })).toBe(
      join(root, 'etc', 'passwd'),
    );
  });

  it('clamps .. and relative symlinks at the root', () => {
    expect(nativeFs.resolveInRoot(root, '../../../etc/passwd', { forceWalk })).toBe(
      join(root, 'etc', 'passwd'),
    );
    expect(nativeFs.resolveInRoot(root, '/a/b/up/rel', { forceWalk })).toBe(
      join(root, 'etc', 'passwd'),
    );
  });

  it('returns the link itself with noFollow', () => {
    expect(nativeFs.resolveInRoot(root, 'etc/rel', { forceWalk, noFollow: true })).toBe(
      join(root, 'etc', 'rel'),
    );
  });

  it('fails for missing paths', () => {
    expect(() => nativeFs.resolveInRoot(root, 'abs/shadow', { forceWalk })).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
  });
});

describe('nativeFs.openInRoot', () => {
  it('returns an O_PATH fd usable through /proc/self/fd', () => {
    mkdirSync(join(root, 'dir'));
    const fd = nativeFs.openInRoot(root, '/dir');
    try {
      writeFileSync(`/proc/self/fd/${String(fd)}/file`, 'hello');
    } finally {
      nativeFs.closeFd(fd);
    }
    expect(statSync(join(root, 'dir', 'file')).size).toBe(5);
  });
});
