import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InlinePool } from '../threads/index.js';
import { checksumPath, cleanRelative, headerJson, type ChecksumOptions } from './checksum.js';
import { StatCache, identity } from './stat-cache.js';

let root: string;
let options: ChecksumOptions;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-contenthash-'));
  options = {
    root,
    statCache: StatCache.inMemory(),
    pool: new InlinePool(),
    includeOwnership: false,
  };
  await mkdir(join(root, 'src/lib'), { recursive: true });
  await writeFile(join(root, 'src/main.c'), 'int main() { return 0; }\n');
  await writeFile(join(root, 'src/lib/util.c'), 'void util(void) {}\n');
  await symlink('main.c', join(root, 'src/link'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('checksumPath', () => {
  it('ignores mtime: touching files keeps the checksum', async () => {
    const before = await checksumPath('src', options);
    const later = new Date(Date.now() + 60_000);
    await utimes(join(root, 'src/main.c'), later, later);
    await utimes(join(root, 'src/lib'), later, later);
    expect(await checksumPath('src', options)).toBe(before);
  });

  it('changes when one byte changes, even with the mtime restored', async () => {
    // A whole-second mtime can be restored exactly, so only ctime tells the change apart.
    const file = join(root, 'src/main.c');
    const mtime = new Date('2024-01-01T00:00:00Z');
    await utimes(file, mtime, mtime);
    const before = await checksumPath('src', options);
    await writeFile(file, 'int main() { return 1; }\n');
    await utimes(file, mtime, mtime);
    expect((await stat(file, { bigint: true })).mtimeNs).toBe(BigInt(mtime.getTime()) * 1_000_000n);
    expect(await checksumPath('src', options)).not.toBe(before);
  });

  it('changes when a mode changes', async () => {
    const before = await checksumPath('src/main.c', options);
    await chmod(join(root, 'src/main.c'), 0o755);
    expect(await checksumPath('src/main.c', options)).not.toBe(before);
  });

  it('changes when a symlink target or a file name changes', async () => {
    const before = await checksumPath('src', options);
    await rm(join(root, 'src/link'));
    await symlink('lib/util.c', join(root, 'src/link'));
    const retargeted = await checksumPath('src', options);
    expect(retargeted).not.toBe(before);
    await writeFile(join(root, 'src/extra'), '');
    expect(await checksumPath('src', options)).not.toBe(retargeted);
  });

  it('leaves excluded paths out', async () => {
    const before = await checksumPath('src', {
      ...options,
      excludes: (path) => path.endsWith('.log'),
    });
    await writeFile(join(root, 'src/build.log'), 'noise');
    expect(
      await checksumPath('src', { ...options, excludes: (path) => path.endsWith('.log') }),
    ).toBe(before);
    expect(await checksumPath('src', options)).not.toBe(before);
  });

  // .dockerignore `src/lib` then `!src/lib/deep/x.c`: BuildKit's context sender (fsutil
  // filter.go) walks the excluded directory and sends what the exception keeps.
  it('counts what an exception keeps inside an excluded directory, and sees it appear', async () => {
    await mkdir(join(root, 'src/lib/deep'));
    const inLib = (path: string): boolean => path === 'src/lib' || path.startsWith('src/lib/');
    const keepDeep: ChecksumOptions = {
      ...options,
      excludes: (path) => inLib(path) && path !== 'src/lib/deep/x.c',
      mayKeepInside: (dir) => 'src/lib/deep/x.c'.startsWith(`${dir}/`),
      excludesKey: 'keep-deep',
    };
    const withoutLib = await checksumPath('src', { ...options, excludes: inLib });
    const nothingKept = await checksumPath('src', keepDeep);
    expect(nothingKept).toBe(withoutLib);
    // Only src/lib/deep's own listing changes: src's remembered checksum must not hide it.
    await writeFile(join(root, 'src/lib/deep/x.c'), 'x');
    const kept = await checksumPath('src', keepDeep);
    expect(kept).not.toBe(nothingKept);
    await writeFile(join(root, 'src/lib/deep/other.c'), 'excluded');
    expect(await checksumPath('src', keepDeep)).toBe(kept);
    await writeFile(join(root, 'src/lib/deep/x.c'), 'changed');
    expect(await checksumPath('src', keepDeep)).not.toBe(kept);
  });

  it('hashes large files on the pool and remembers them by stat identity', async () => {
    const big = Buffer.alloc(300_000, 7);
    await writeFile(join(root, 'big.bin'), big);
    const runs: string[] = [];
    const counting = withCountingPool(runs);
    const first = await checksumPath('big.bin', counting);
    const second = await checksumPath('big.bin', counting);
    expect(second).toBe(first);
    expect(runs).toEqual(['hashFile']);
  });

  it('hashes a few small files on its own thread, and many on the pool', async () => {
    const runs: string[] = [];
    const counting = withCountingPool(runs);
    await mkdir(join(root, 'few'));
    for (let i = 0; i < 3; i++)
      await writeFile(join(root, 'few', `f${String(i)}`), `f${String(i)}`);
    const few = await checksumPath('few', counting);
    expect(runs).toEqual([]);
    await mkdir(join(root, 'many'));
    for (let i = 0; i < 20; i++)
      await writeFile(join(root, 'many', `f${String(i)}`), `f${String(i)}`);
    await checksumPath('many', counting);
    expect(runs).toEqual(['hashFiles']);
    // Both ways hash with the same task: a digest does not depend on where it ran.
    expect(few).toBe(await checksumPath('few', { ...options, statCache: StatCache.inMemory() }));
  });

  it('keeps paths inside the root', () => {
    expect(cleanRelative('../../etc/passwd')).toBe('etc/passwd');
    expect(cleanRelative('./src/')).toBe('src');
    expect(cleanRelative('/')).toBe('');
  });
});

/** The test's options with a pool that records the name of each task it runs. */
function withCountingPool(runs: string[]): ChecksumOptions {
  const pool = new InlinePool();
  return {
    ...options,
    pool: {
      size: 1,
      warm: () => {
        pool.warm();
      },
      close: () => pool.close(),
      run: (name, input, signal) => {
        runs.push(name);
        return pool.run(name, input, signal);
      },
    },
  };
}

describe('StatCache', () => {
  it('persists file digests and directory records across opens and survives damaged files', async () => {
    const dir = join(root, 'state');
    const first = await StatCache.open(dir);
    const target = join(root, 'src/main.c');
    const stats = await stat(target, { bigint: true });
    const digest = createHash('sha256').update('x').digest('hex');
    const record = { settings: 's', fingerprint: 'f', header: '{}', digest: 'd', subdirs: [] };
    first.set(target, stats, digest);
    first.setDirectory(join(root, 'src'), record);
    await first.save();
    const reopened = await StatCache.open(dir);
    expect(reopened.get(target, stats)).toBe(digest);
    expect(reopened.directory(join(root, 'src'), 's')).toEqual(record);
    expect(reopened.directory(join(root, 'src'), 'other settings')).toBeUndefined();
    await writeFile(join(dir, 'files.json'), '{"version":1,"entries":[["torn');
    await writeFile(join(dir, 'directories.json'), '{"version":1,"directories":[["torn');
    const damaged = await StatCache.open(dir);
    expect(damaged.get(target, stats)).toBeUndefined();
    expect(damaged.directory(join(root, 'src'), 's')).toBeUndefined();
  });
});

describe('checksumPath with remembered directories', () => {
  /** A tree of a few directories, checksummed once so the cache holds its records. */
  async function warmTree(): Promise<ChecksumOptions> {
    for (const dir of ['a', 'b', 'b/deep']) {
      await mkdir(join(root, 'tree', dir), { recursive: true });
      await writeFile(join(root, 'tree', dir, 'one.txt'), `one in ${dir}`);
      await writeFile(join(root, 'tree', dir, 'two.txt'), `two in ${dir}`);
    }
    const warm = { ...options, statCache: StatCache.inMemory() };
    await checksumPath('tree', warm);
    return warm;
  }

  /** The checksum as a walk with nothing remembered makes it. */
  const fresh = (extra: Partial<ChecksumOptions> = {}): Promise<string> =>
    checksumPath('tree', { ...options, ...extra, statCache: StatCache.inMemory() });

  it('looks at no file of an unchanged tree', async () => {
    const warm = await warmTree();
    const lookups = vi.spyOn(warm.statCache, 'get');
    expect(await checksumPath('tree', warm)).toBe(await fresh());
    expect(lookups).not.toHaveBeenCalled();
  });

  it.each([
    ['a byte of a deep file', (tree: string) => writeFile(join(tree, 'b/deep/one.txt'), 'One')],
    ['a mode', (tree: string) => chmod(join(tree, 'b/deep/two.txt'), 0o600)],
    ['a new file', (tree: string) => writeFile(join(tree, 'b/new.txt'), 'new')],
    ['a removed file', (tree: string) => rm(join(tree, 'a/one.txt'))],
    ['a new directory', (tree: string) => mkdir(join(tree, 'b/deep/deeper'))],
  ])('sees %s, and agrees with a walk that remembers nothing', async (_name, change) => {
    const warm = await warmTree();
    const before = await checksumPath('tree', warm);
    await change(join(root, 'tree'));
    const after = await checksumPath('tree', warm);
    expect(after).not.toBe(before);
    expect(after).toBe(await fresh());
    // And the records left behind hold for the next walk.
    expect(await checksumPath('tree', warm)).toBe(after);
  });

  it('hashes again the files of an unchanged directory whose digests were forgotten', async () => {
    const warm = await warmTree();
    const forgetful = { ...warm, statCache: StatCache.inMemory() };
    const records = warm.statCache;
    for (const dir of ['tree', 'tree/a', 'tree/b', 'tree/b/deep']) {
      const record = records.directory(join(root, dir), JSON.stringify([root, false, null]));
      if (record !== undefined) forgetful.statCache.setDirectory(join(root, dir), record);
    }
    await writeFile(join(root, 'tree/b/deep/one.txt'), 'One');
    // tree and tree/b are listed as before, but below them a file changed.
    expect(await checksumPath('tree', forgetful)).toBe(await fresh());
  });

  it('does not use records made under other excludes', async () => {
    const warm = await warmTree();
    const excludes = (path: string): boolean => path.endsWith('two.txt');
    const withExcludes = { excludes, excludesKey: '["**/two.txt"]' };
    const excluded = await checksumPath('tree', { ...warm, ...withExcludes });
    expect(excluded).toBe(await fresh(withExcludes));
    expect(excluded).not.toBe(await checksumPath('tree', warm));
    expect(await checksumPath('tree', { ...warm, excludes })).toBe(excluded);
  });
});

describe('headerJson', () => {
  it('is the canonical JSON of the header fields', async () => {
    const { lstatSync, mkdtempSync, writeFileSync, symlinkSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { canonicalJson } = await import('../../core/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'tbuild-header-'));
    try {
      writeFileSync(join(dir, 'file'), 'abc');
      symlinkSync('file', join(dir, 'link'));
      const cases = [
        [join(dir, 'file'), 'file'],
        [dir, 'dir'],
        [join(dir, 'link'), 'symlink'],
        ['/dev/null', 'char'],
      ] as const;
      for (const [path, type] of cases) {
        const stats = lstatSync(path, { bigint: true });
        for (const owners of [false, true]) {
          const expected = canonicalJson({
            type,
            mode: Number(stats.mode & 0o7777n),
            ...(owners ? { uid: Number(stats.uid), gid: Number(stats.gid) } : {}),
            ...(type === 'file' ? { size: Number(stats.size) } : {}),
            ...(type === 'char' ? { rdev: Number(stats.rdev) } : {}),
          });
          expect(headerJson(stats, owners)).toBe(expected);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('checksumPath with names that are not valid UTF-8', () => {
  const badName = Buffer.from([0x62, 0xff, 0x64]);

  it('refuses them, naming the path', async () => {
    await writeFile(Buffer.concat([Buffer.from(`${root}/src/`), badName]), 'x');
    await expect(checksumPath('src', options)).rejects.toMatchObject({
      code: 'TB_UNSUPPORTED',
      message: expect.stringContaining('src/b\uFFFDd') as unknown,
    });
  });

  it('leaves them out when excluded', async () => {
    const before = await checksumPath('src', options);
    await writeFile(Buffer.concat([Buffer.from(`${root}/src/`), badName]), 'x');
    const excludes = (path: string): boolean => path.includes('\uFFFD');
    expect(await checksumPath('src', { ...options, excludes })).toBe(before);
  });
});

describe('stat identity', () => {
  it('is the same string from lstatSync(bigint) and from a scanned entry', async () => {
    const { lstatSync } = await import('node:fs');
    const { nativeFs } = await import('../../runtime/index.js');
    const file = join(root, 'src/main.c');
    await utimes(file, 1_700_000_000.123456, new Date(-1500));
    for (const name of ['main.c', 'lib', 'link']) {
      const scan = nativeFs.scanDirectory(join(root, 'src'));
      const scanned = scan.entry(scan.names.indexOf(name));
      const stats = lstatSync(join(root, 'src', name), { bigint: true });
      expect(identity(scanned)).toBe(identity(stats));
      expect(identity(stats)).toBe(
        `${String(stats.dev)}:${String(stats.ino)}:${String(stats.size)}:${String(stats.mtimeNs)}:${String(stats.ctimeNs)}`,
      );
    }
    const cache = StatCache.inMemory();
    cache.set(file, lstatSync(file, { bigint: true }), 'digest');
    const scan = nativeFs.scanDirectory(join(root, 'src'));
    expect(cache.get(file, scan.entry(scan.names.indexOf('main.c')))).toBe('digest');
    await writeFile(file, 'changed');
    const rescan = nativeFs.scanDirectory(join(root, 'src'));
    expect(cache.get(file, rescan.entry(rescan.names.indexOf('main.c')))).toBeUndefined();
  });
});
