import {
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CopyAction, FileOp } from '../../solver/index.js';
import { planLayerCopy } from './layer-copy.js';
import { FileReuse, sourceIdentity, type WantedFile } from './reuse.js';
import { fromNodeStats, fromScanned } from './entry-stats.js';
import { nativeFs } from '../../runtime/index.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tbuild-reuse-'));
  for (const sub of ['src', 'previous', 'layer', 'base']) mkdirSync(join(dir, sub));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const MTIME = new Date(1_700_000_000_123);

/** Writes a source file and the earlier copy of it, as a copy would have left it. */
function pair(name: string, source: string, earlier: string, mode = 0o644): void {
  for (const [sub, content] of [
    ['src', source],
    ['previous', earlier],
  ] as const) {
    const path = join(dir, sub, name);
    writeFileSync(path, content);
    chmodSync(path, mode);
    utimesSync(path, MTIME, MTIME);
  }
}

function wanted(overrides: Partial<WantedFile> = {}): WantedFile {
  return {
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    mode: 0o644,
    mtimeMs: MTIME.getTime(),
    ...overrides,
  };
}

/** What the copier does with FileReuse: link the earlier file it offers, else copy. */
async function tryLink(reuse: FileReuse, name: string, want = wanted()): Promise<boolean> {
  const source = join(dir, 'src', name);
  const earlier = await reuse.earlierEqual(source, fromNodeStats(lstatSync(source)), name, want);
  if (earlier === undefined) return false;
  linkSync(earlier, join(dir, 'layer', name));
  return true;
}

describe('FileReuse', () => {
  it('links an earlier file with the same bytes, owner, mode and mtime', async () => {
    pair('a', 'same bytes', 'same bytes');
    const reuse = new FileReuse(join(dir, 'previous'));
    expect(await tryLink(reuse, 'a')).toBe(true);
    expect(lstatSync(join(dir, 'layer/a')).ino).toBe(lstatSync(join(dir, 'previous/a')).ino);
    expect(reuse.linked).toBe(1);
  });

  it('copies when the bytes differ even though size and mtime are equal', async () => {
    pair('a', 'version 1', 'version 2');
    const reuse = new FileReuse(join(dir, 'previous'));
    expect(await tryLink(reuse, 'a')).toBe(false);
    expect(lstatSync(join(dir, 'layer/a'), { throwIfNoEntry: false })).toBeUndefined();
  });

  it('copies when the copy would give another mode, owner or mtime', async () => {
    pair('a', 'x', 'x');
    const reuse = new FileReuse(join(dir, 'previous'));
    expect(await tryLink(reuse, 'a', wanted({ mode: 0o755 }))).toBe(false);
    expect(await tryLink(reuse, 'a', wanted({ uid: 4242 }))).toBe(false);
    expect(await tryLink(reuse, 'a', wanted({ mtimeMs: MTIME.getTime() + 1 }))).toBe(false);
  });

  it('copies when there is no earlier file or it is not a regular file', async () => {
    pair('a', 'x', 'x');
    rmSync(join(dir, 'previous/a'));
    symlinkSync('elsewhere', join(dir, 'previous/a'));
    const reuse = new FileReuse(join(dir, 'previous'));
    expect(await tryLink(reuse, 'a')).toBe(false);
    writeFileSync(join(dir, 'src/b'), 'x');
    expect(await tryLink(reuse, 'b')).toBe(false);
    expect(reuse.linked).toBe(0);
  });

  it('counts a link that could not be made as a copy', async () => {
    pair('a', 'x', 'x');
    const reuse = new FileReuse(join(dir, 'previous'));
    expect(await tryLink(reuse, 'a')).toBe(true);
    reuse.linkFailed();
    expect(reuse.linked).toBe(0);
  });

  it('compares large files in chunks', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 7);
    pair('big', big.toString('latin1'), big.toString('latin1'));
    const reuse = new FileReuse(join(dir, 'previous'));
    expect(await tryLink(reuse, 'big')).toBe(true);
    const changed = Buffer.from(big);
    changed[changed.length - 1] = 8;
    pair('big2', big.toString('latin1'), changed.toString('latin1'));
    expect(await tryLink(reuse, 'big2')).toBe(false);
  });

  it('trusts a source whose identity is the one recorded for the earlier file, without reading', async () => {
    // Same size, other bytes: only the recorded identity can make this link happen.
    pair('a', 'version 1', 'version 2');
    const identity = sourceIdentity(fromNodeStats(lstatSync(join(dir, 'src/a'))));
    const trusting = new FileReuse(join(dir, 'previous'), new Map([['a', identity]]));
    expect(await tryLink(trusting, 'a')).toBe(true);
    expect(trusting.sources.get('a')).toBe(identity);
    rmSync(join(dir, 'layer/a'));
    const stale = new FileReuse(join(dir, 'previous'), new Map([['a', `${identity}0`]]));
    expect(await tryLink(stale, 'a')).toBe(false);
  });

  it('links a source with its recorded identity without listing the earlier directory', async () => {
    pair('a', 'same', 'same');
    const identity = sourceIdentity(fromNodeStats(lstatSync(join(dir, 'src/a'))));
    const trusting = new FileReuse(join(dir, 'previous'), new Map([['a', identity]]));
    const scans = vi.spyOn(nativeFs, 'scanDirectory');
    try {
      expect(await tryLink(trusting, 'a')).toBe(true);
      expect(scans).not.toHaveBeenCalled();
    } finally {
      scans.mockRestore();
    }
  });

  it('gives a scanned file the identity node:fs stats give it, so earlier records still match', () => {
    writeFileSync(join(dir, 'src/c'), 'c');
    utimesSync(join(dir, 'src/c'), 1_234_567_890.123456, 1_700_000_000.987654);
    const scanned = nativeFs
      .scanDirectory(join(dir, 'src'))
      .entries()
      .find((entry) => entry.name === 'c');
    expect(scanned).toBeDefined();
    if (scanned === undefined) return;
    const viaNode = fromNodeStats(lstatSync(join(dir, 'src/c')));
    expect(sourceIdentity(fromScanned(scanned))).toBe(sourceIdentity(viaNode));
    expect(fromScanned(scanned)).toEqual(viaNode);
  });

  it('records what copied files were made from, for the next copy', () => {
    writeFileSync(join(dir, 'src/b'), 'b');
    const stats = fromNodeStats(lstatSync(join(dir, 'src/b')));
    const first = new FileReuse();
    first.copied('b', stats);
    expect(first.sources).toEqual(new Map([['b', sourceIdentity(stats)]]));
  });

  it('never lets two unrelated sources share one earlier inode', async () => {
    pair('a', 'x', 'x');
    pair('b', 'x', 'x');
    rmSync(join(dir, 'previous/b'));
    // The earlier result had a and b hard-linked; the sources now are two files.
    linkSync(join(dir, 'previous/a'), join(dir, 'previous/b'));
    const reuse = new FileReuse(join(dir, 'previous'));
    expect(await tryLink(reuse, 'a')).toBe(true);
    expect(await tryLink(reuse, 'b')).toBe(false);
  });
});

function copyOp(dest: string, extra: Partial<CopyAction> = {}): FileOp {
  const copy: CopyAction = {
    action: 'copy',
    from: 1,
    src: '/src',
    dest,
    createDestPath: true,
    followSymlinks: true,
    dirContents: true,
    allowWildcard: true,
    allowEmptyWildcard: true,
    includePatterns: [],
    excludePatterns: [],
    parents: false,
    unpack: false,
    ...extra,
  };
  return { kind: 'file', base: 0, actions: [copy] };
}

describe('planLayerCopy', () => {
  it('writes into the layer when the destination is new, copying up existing parents', async () => {
    mkdirSync(join(dir, 'base/usr/local'), { recursive: true });
    const plan = await planLayerCopy(copyOp('/usr/local/app/'), join(dir, 'base'));
    expect(plan?.copyUp).toEqual(['usr', 'usr/local']);
    expect(plan?.op.actions[0]).toMatchObject({ dest: '/usr/local/app/' });
  });

  it('writes into the layer when the destination is an empty directory of the base', async () => {
    mkdirSync(join(dir, 'base/app'));
    expect((await planLayerCopy(copyOp('/app'), join(dir, 'base')))?.copyUp).toEqual(['app']);
  });

  it('resolves symlinks of the destination against the base', async () => {
    mkdirSync(join(dir, 'base/real'));
    symlinkSync('/real', join(dir, 'base/link'));
    const plan = await planLayerCopy(copyOp('/link/app'), join(dir, 'base'));
    expect(plan?.op.actions[0]).toMatchObject({ dest: '/real/app' });
    expect(plan?.copyUp).toEqual(['real']);
  });

  it('goes through an overlay when the copy meets the base', async () => {
    mkdirSync(join(dir, 'base/app'));
    writeFileSync(join(dir, 'base/app/existing'), '');
    writeFileSync(join(dir, 'base/file'), '');
    const base = join(dir, 'base');
    expect(await planLayerCopy(copyOp('/app'), base)).toBeUndefined();
    expect(await planLayerCopy(copyOp('/'), base)).toBeUndefined();
    expect(await planLayerCopy(copyOp('/file/x'), base)).toBeUndefined();
    expect(await planLayerCopy(copyOp('/new', { unpack: true }), base)).toBeUndefined();
    const two = copyOp('/new');
    expect(
      await planLayerCopy({ ...two, actions: [...two.actions, ...two.actions] }, base),
    ).toBeUndefined();
  });
});
