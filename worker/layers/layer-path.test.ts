import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { entryComponents, resolveDirInRoot, whiteoutOf } from './layer-path.js';

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('entryComponents', () => {
  it('drops leading slashes and dots, and folds inner ".."', () => {
    expect(entryComponents('/etc/passwd')).toEqual(['etc', 'passwd']);
    expect(entryComponents('./usr//bin/')).toEqual(['usr', 'bin']);
    expect(entryComponents('a/b/../c')).toEqual(['a', 'c']);
    expect(entryComponents('./')).toEqual([]);
  });

  it('refuses ".." that climbs above the root', () => {
    for (const name of ['../x', 'a/../../x', '/../etc/shadow']) {
      expect(
        isTbuildError(
          caught(() => entryComponents(name)),
          'TB_LAYER_UNSAFE_PATH',
        ),
      ).toBe(true);
    }
  });
});

describe('whiteoutOf', () => {
  it('tells whiteouts, opaque markers and AUFS bookkeeping apart', () => {
    expect(whiteoutOf('.wh.foo', 'a/.wh.foo')).toEqual({ kind: 'whiteout', target: 'foo' });
    expect(whiteoutOf('.wh..wh..opq', 'a/.wh..wh..opq')).toEqual({ kind: 'opaque' });
    expect(whiteoutOf('.wh..wh.plnk', '.wh..wh.plnk')).toEqual({ kind: 'aufs-meta' });
    expect(whiteoutOf('foo', 'foo')).toBeUndefined();
  });

  it('refuses a bare ".wh." and whiteouts of "." or ".."', () => {
    for (const base of ['.wh.', '.wh..', '.wh...']) {
      expect(
        isTbuildError(
          caught(() => whiteoutOf(base, base)),
          'TB_LAYER_INVALID',
        ),
      ).toBe(true);
    }
  });
});

describe('resolveDirInRoot', () => {
  let base: string;
  let root: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'tbuild-resolve-'));
    root = join(base, 'root');
    mkdirSync(join(root, 'usr/lib'), { recursive: true });
    mkdirSync(join(base, 'outside'));
    symlinkSync('/', join(root, 'abs'));
    symlinkSync('../../../../outside', join(root, 'usr/climb'));
    symlinkSync('usr/lib', join(root, 'lib'));
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
    writeFileSync(join(root, 'file'), '');
  });
  afterEach(() => {
    rmSync(base, { recursive: true, force: true });
  });

  const create = { createMissing: true };

  it('follows symlinks inside the root, as if it were /', async () => {
    expect(await resolveDirInRoot(root, ['lib', 'x'], 'lib/x/f', create)).toEqual([
      'usr',
      'lib',
      'x',
    ]);
    expect(await resolveDirInRoot(root, ['abs', 'etc'], 'abs/etc/f', create)).toEqual(['etc']);
    expect(await resolveDirInRoot(root, ['usr', 'climb'], 'usr/climb/f', create)).toEqual([
      'outside',
    ]);
    expect(existsSync(join(root, 'outside'))).toBe(true);
    expect(existsSync(join(root, 'etc'))).toBe(true);
  });

  it('refuses symlink loops and paths through files', async () => {
    const loop = await resolveDirInRoot(root, ['loop1'], 'loop1/f', create).catch(
      (e: unknown) => e,
    );
    expect(isTbuildError(loop, 'TB_LAYER_UNSAFE_PATH')).toBe(true);
    const file = await resolveDirInRoot(root, ['file'], 'file/f', create).catch((e: unknown) => e);
    expect(isTbuildError(file, 'TB_LAYER_INVALID')).toBe(true);
  });

  it('does not create anything when asked not to', async () => {
    const missing = await resolveDirInRoot(root, ['nope'], 'nope/f', {
      createMissing: false,
    }).catch((e: unknown) => e);
    expect(isTbuildError(missing, 'TB_LAYER_UNSAFE_PATH')).toBe(true);
    expect(existsSync(join(root, 'nope'))).toBe(false);
  });
});
