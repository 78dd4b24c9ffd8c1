import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bytesStream, packCacheMount, unpackCacheMount } from './cache-mounts.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tbuild-cache-mounts-'));
  dirs.push(dir);
  return dir;
}

async function mountWith(files: Record<string, string>, mtime: number): Promise<string> {
  const dir = await tempDir();
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
    await utimes(join(dir, name), mtime, mtime);
  }
  return dir;
}

const signal = new AbortController().signal;

describe('cache mount layers', () => {
  it('the same content is the same blob whatever its times; other content another blob', async () => {
    const files = { 'pkg/a.txt': 'a\n', 'b.txt': 'b\n' };
    const first = await packCacheMount(await mountWith(files, 1_000_000), signal);
    const again = await packCacheMount(await mountWith(files, 2_000_000), signal);
    const changed = await packCacheMount(
      await mountWith({ ...files, 'b.txt': 'B\n' }, 1_000_000),
      signal,
    );
    expect(first?.layer.descriptor.digest).toMatch(/^sha256:/);
    expect(again?.layer).toEqual(first?.layer);
    expect(changed?.layer.descriptor.digest).not.toBe(first?.layer.descriptor.digest);
  });

  it('an empty mount is not exported', async () => {
    expect(await packCacheMount(await tempDir(), signal)).toBeUndefined();
  });

  it('unpacks into an empty mount, keeps a mount that is not empty, refuses a damaged blob', async () => {
    const packed = await packCacheMount(
      await mountWith({ 'pkg/a.txt': 'from cache\n' }, 1),
      signal,
    );
    if (packed === undefined) throw new Error('nothing packed');
    const empty = join(await tempDir(), 'mount');
    await mkdir(empty);
    await unpackCacheMount(bytesStream(packed.bytes), packed.layer, empty, signal);
    expect(await readFile(join(empty, 'pkg/a.txt'), 'utf8')).toBe('from cache\n');

    const used = await mountWith({ 'mine.txt': 'local\n' }, 1);
    await unpackCacheMount(bytesStream(packed.bytes), packed.layer, used, signal);
    await expect(readFile(join(used, 'pkg/a.txt'), 'utf8')).rejects.toThrow();

    const other = await packCacheMount(await mountWith({ 'x.txt': 'x\n' }, 1), signal);
    const target = join(await tempDir(), 'mount');
    await expect(
      unpackCacheMount(bytesStream(other?.bytes ?? Buffer.alloc(0)), packed.layer, target, signal),
    ).rejects.toThrow(/damaged/);
  });
});
