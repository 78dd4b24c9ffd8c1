import { lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeListing, listContext } from '../../remote/index.js';
import { ContextCopies, FileReceiver, finishSync, planSync } from './context-copies.js';

let client = '';
let root = '';

beforeEach(async () => {
  client = await mkdtemp(join(tmpdir(), 'tbuild-sync-client-'));
  root = await mkdtemp(join(tmpdir(), 'tbuild-sync-root-'));
});

afterEach(async () => {
  await rm(client, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

/** One sync as the server runs it, the client's files read straight from its directory. */
async function sync(tree: string): Promise<string[]> {
  const listing = await listContext(client, []);
  const plan = await planSync(tree, encodeListing(listing));
  const receiver = new FileReceiver(tree, plan);
  for (const index of plan.fetch) {
    const entry = listing[index];
    if (entry === undefined) throw new Error('no such entry');
    const data = await readFile(join(client, entry.path));
    await receiver.chunk(index, data.subarray(0, 2), false);
    await receiver.chunk(index, data.subarray(2), true);
  }
  expect(receiver.done).toBe(true);
  await finishSync(tree, plan);
  return plan.fetch.map((index) => listing[index]?.path ?? '');
}

describe('a kept context copy', () => {
  it('is filled on the first sync, then receives only what changed', async () => {
    await mkdir(join(client, 'src'));
    await writeFile(join(client, 'src/a.c'), 'int a;');
    await writeFile(join(client, 'b.txt'), 'bee', { mode: 0o600 });
    await writeFile(join(client, 'gone.txt'), 'soon gone');
    const copies = new ContextCopies(root);
    const held = await copies.hold('token', 'client-context');
    expect(await sync(held.tree)).toEqual(['b.txt', 'gone.txt', 'src/a.c']);
    expect(await readFile(join(held.tree, 'src/a.c'), 'utf8')).toBe('int a;');
    expect((await lstat(join(held.tree, 'b.txt'))).mode & 0o777).toBe(0o600);

    expect(await sync(held.tree)).toEqual([]);

    await writeFile(join(client, 'src/a.c'), 'int a = 1;');
    await rm(join(client, 'gone.txt'));
    const { symlink } = await import('node:fs/promises');
    await symlink('src/a.c', join(client, 'link'));
    expect(await sync(held.tree)).toEqual(['src/a.c']);
    expect(await readFile(join(held.tree, 'src/a.c'), 'utf8')).toBe('int a = 1;');
    expect(await readlink(join(held.tree, 'link'))).toBe('src/a.c');
    // src/ had a file renamed in: it gets the client's time back.
    const times = await Promise.all([lstat(join(held.tree, 'src')), lstat(join(client, 'src'))]);
    expect(Math.abs(times[0].mtimeMs - times[1].mtimeMs)).toBeLessThan(1);
    await expect(lstat(join(held.tree, 'gone.txt'))).rejects.toThrow(/ENOENT/);
    held.release();
  });

  it('refuses a listing with a path below one of its symlinks', async () => {
    const line = (path: string, mode: string, link = ''): string =>
      [path, mode, '0', '0', link].join('\0');
    const { gzipSync } = await import('node:zlib');
    const listing = gzipSync(
      [line('out', '120777', '/etc'), line('out/passwd', '100644')].join('\n'),
    );
    await expect(planSync(join(root, 'tree'), listing)).rejects.toThrow(/below the symlink/);
  });

  it('lets one build hold a copy at a time', async () => {
    const copies = new ContextCopies(root);
    const first = await copies.hold('token', 'same');
    let second = false;
    const waiting = copies.hold('token', 'same').then((held) => {
      second = true;
      return held;
    });
    const other = await copies.hold('token', 'another');
    expect(second).toBe(false);
    first.release();
    (await waiting).release();
    expect(second).toBe(true);
    other.release();
  });
});
