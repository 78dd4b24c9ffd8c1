/**
 * Malicious layer tars, written with tar-stream (not our own writer, which would refuse to
 * produce some of them). Whatever the tar says, nothing outside the target directory may
 * change: a canary directory beside it is listed before and after every case.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pack, type Header } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTbuildError, neverAborted } from '../../../core/index.js';
import { nativeFs } from '../../../runtime/index.js';
import { applyLayerTar } from '../../../worker/index.js';
import { requires } from '../../harness/index.js';
import { collect, listTree } from './tree.js';

type Entry = Partial<Header> & Pick<Header, 'name'> & { body?: string };

let base: string;
let root: string;
let canary: string;
let canaryBefore: string[];

beforeEach(() => {
  base = mkdtempSync('/var/tmp/tbuild-slip-');
  root = `${base}/root`;
  canary = `${base}/canary`;
  mkdirSync(root);
  mkdirSync(`${canary}/dir`, { recursive: true });
  writeFileSync(`${canary}/secret`, 'do not touch');
  writeFileSync(`${canary}/dir/inner`, 'inner');
  canaryBefore = listTree(canary);
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const tar = pack();
  for (const { body, ...header } of entries) {
    tar.entry({ mtime: new Date(1_000_000_000_000), ...header }, body ?? '');
  }
  tar.finalize();
  return collect(Readable.from(tar));
}

async function apply(entries: Entry[]): Promise<unknown> {
  const tar = await tarOf(entries);
  return applyLayerTar(Readable.from([tar]), root, { signal: neverAborted }).then(
    () => undefined,
    (error: unknown) => error,
  );
}

function expectCanaryUntouched(): void {
  expect(listTree(canary)).toEqual(canaryBefore);
  expect(readFileSync(`${canary}/secret`, 'utf8')).toBe('do not touch');
  expect(nativeFs.llistxattr(canary)).toEqual([]);
}

describe('applying a layer never writes outside its directory', () => {
  it('refuses names that climb out with ".."', async (ctx) => {
    requires(ctx, 'root');
    for (const name of ['../canary/secret', 'a/../../canary/evil', './../canary']) {
      const error = await apply([{ name, type: 'file', body: 'pwned' }]);
      expect(isTbuildError(error, 'TB_LAYER_UNSAFE_PATH'), name).toBe(true);
    }
    expect(existsSync(`${canary}/evil`)).toBe(false);
    expectCanaryUntouched();
  });

  it('contains absolute names inside the root', async (ctx) => {
    requires(ctx, 'root');
    expect(
      await apply([{ name: `${canary}/secret`, type: 'file', body: 'pwned' }]),
    ).toBeUndefined();
    expect(readFileSync(`${root}${canary}/secret`, 'utf8')).toBe('pwned');
    expectCanaryUntouched();
  });

  it('resolves symlinked parents inside the root: a -> / then a/<canary>/secret', async (ctx) => {
    requires(ctx, 'root');
    const error = await apply([
      { name: 'a', type: 'symlink', linkname: '/' },
      { name: `a${canary}/secret`, type: 'file', body: 'pwned' },
      { name: 'up', type: 'symlink', linkname: '../../../../../../../..' },
      { name: `up${canary}/dir/inner`, type: 'file', body: 'pwned' },
      { name: 'c1', type: 'symlink', linkname: 'c2' },
      { name: 'c2', type: 'symlink', linkname: `../..${canary}` },
      { name: 'c1/chained', type: 'file', body: 'pwned' },
    ]);
    expect(error).toBeUndefined();
    expect(readFileSync(`${root}${canary}/secret`, 'utf8')).toBe('pwned');
    expect(readFileSync(`${root}${canary}/dir/inner`, 'utf8')).toBe('pwned');
    expect(readFileSync(`${root}${canary}/chained`, 'utf8')).toBe('pwned');
    expectCanaryUntouched();
  });

  it('replaces a symlink with the file of the same name instead of writing through it', async (ctx) => {
    requires(ctx, 'root');
    const error = await apply([
      { name: 'f', type: 'symlink', linkname: `${canary}/secret` },
      { name: 'f', type: 'file', body: 'pwned' },
      { name: 'd', type: 'symlink', linkname: canary },
      { name: 'd', type: 'directory' },
      { name: 'd/secret', type: 'file', body: 'pwned' },
    ]);
    expect(error).toBeUndefined();
    expect(readFileSync(`${root}/f`, 'utf8')).toBe('pwned');
    expect(readFileSync(`${root}/d/secret`, 'utf8')).toBe('pwned');
    expectCanaryUntouched();
  });

  it('refuses hardlinks out of the root, to paths not extracted yet, or to directories', async (ctx) => {
    requires(ctx, 'root');
    const cases: Entry[][] = [
      [{ name: 'h', type: 'link', linkname: '../../etc/shadow' }],
      [{ name: 'h', type: 'link', linkname: `${canary}/secret` }],
      [
        { name: 's', type: 'symlink', linkname: canary },
        { name: 'h', type: 'link', linkname: 's/secret' },
      ],
      [
        { name: 'h', type: 'link', linkname: 'later' },
        { name: 'later', type: 'file', body: 'x' },
      ],
      [
        { name: 'dir', type: 'directory' },
        { name: 'h', type: 'link', linkname: 'dir' },
      ],
    ];
    for (const entries of cases) {
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root);
      const error = await apply(entries);
      expect(isTbuildError(error, 'TB_LAYER_UNSAFE_PATH'), JSON.stringify(entries)).toBe(true);
      expect(existsSync(`${root}/h`)).toBe(false);
    }
    expectCanaryUntouched();
  });

  it('links to a symlink itself, never to what it points at', async (ctx) => {
    requires(ctx, 'root');
    const error = await apply([
      { name: 's', type: 'symlink', linkname: `${canary}/secret` },
      { name: 'h', type: 'link', linkname: 's' },
      { name: 'h2', type: 'link', linkname: '/s' },
    ]);
    expect(error).toBeUndefined();
    expect(listTree(root).join('\n')).toMatch(/^s \| symlink \| .* \| => h$/m);
    expectCanaryUntouched();
  });

  it('keeps whiteouts and opaque markers behind symlinks inside the root', async (ctx) => {
    requires(ctx, 'root');
    const error = await apply([
      { name: 'a', type: 'symlink', linkname: canary },
      { name: 'a/.wh.secret', type: 'file' },
      { name: 'a/dir/.wh..wh..opq', type: 'file' },
    ]);
    expect(error).toBeUndefined();
    const applied = listTree(root).join('\n');
    expect(applied).toContain(`${canary.slice(1)}/secret | char | 0 | 0:0 | - | - | - | 0,0`);
    expect(applied).toMatch(
      new RegExp(`^${canary.slice(1)}/dir \\| dir \\| .* \\| opaque \\|`, 'm'),
    );
    expectCanaryUntouched();
  });

  it('refuses forged overlay xattrs and symlink loops', async (ctx) => {
    requires(ctx, 'root');
    const forged = await apply([
      { name: 'x', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } },
    ]);
    expect(forged).toBeUndefined();
    expect(nativeFs.llistxattr(`${root}/x`)).toEqual([]);
    const loop = await apply([
      { name: 'l1', type: 'symlink', linkname: 'l2' },
      { name: 'l2', type: 'symlink', linkname: 'l1' },
      { name: 'l1/f', type: 'file' },
    ]);
    expect(isTbuildError(loop, 'TB_LAYER_UNSAFE_PATH')).toBe(true);
    expectCanaryUntouched();
  });
});
