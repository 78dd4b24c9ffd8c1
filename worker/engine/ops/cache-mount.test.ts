import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTbuildError } from '../../../core/index.js';
import type { CacheMount } from '../../../solver/index.js';
import { cacheMountDirectory } from './cache-mount.js';

let work: string;
let caches: string;
let stage: string;
const signal = new AbortController().signal;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tbuild-cache-mount-'));
  caches = join(work, 'caches');
  stage = join(work, 'stage');
  await mkdir(join(stage, 'seeded/sub'), { recursive: true });
  await writeFile(join(stage, 'seeded/sub/file'), 'from the stage\n');
  await chmod(join(stage, 'seeded'), 0o750);
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

function cacheMount(extra: Partial<CacheMount> = {}): CacheMount {
  return {
    type: 'cache',
    target: '/c',
    id: '/c',
    sharing: 'shared',
    selector: '/',
    readonly: false,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    mode: 0o711,
    ...extra,
  };
}

describe('cacheMountDirectory', () => {
  it('makes an empty directory with the mount’s mode, and finds it again', async () => {
    const dir = await cacheMountDirectory(cacheMount(), undefined, caches, signal);
    expect(await readdir(dir)).toEqual([]);
    expect((await stat(dir)).mode & 0o7777).toBe(0o711);
    await writeFile(join(dir, 'kept'), 'x');
    expect(await cacheMountDirectory(cacheMount(), undefined, caches, signal)).toBe(dir);
    expect(await readdir(dir)).toEqual(['kept']);
  });

  // The Dockerfile reference: `from` is the "build stage, context, or image name to use as a
  // base of the cache mount"; BuildKit keys the cache by id and that input (getRefCacheDir).
  it('starts from the source directory of its `from` input, one cache per input', async () => {
    const mount = cacheMount({ selector: '/seeded' });
    const seed = { view: stage, snapshot: 'snapshot-a' };
    const dir = await cacheMountDirectory(mount, seed, caches, signal);
    expect(await readFile(join(dir, 'sub/file'), 'utf8')).toBe('from the stage\n');
    expect((await stat(dir)).mode & 0o7777).toBe(0o750);
    await writeFile(join(dir, 'added'), 'by a run');
    expect(await cacheMountDirectory(mount, seed, caches, signal)).toBe(dir);
    expect((await readdir(dir)).sort()).toEqual(['added', 'sub']);
    const other = await cacheMountDirectory(
      mount,
      { view: stage, snapshot: 'snapshot-b' },
      caches,
      signal,
    );
    expect(other).not.toBe(dir);
    expect(await readdir(other)).toEqual(['sub']);
    expect(await cacheMountDirectory(mount, undefined, caches, signal)).not.toBe(dir);
    // Nothing is left beside the caches by the seeding.
    expect((await readdir(caches)).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('names the mount and the path when the source is missing or not a directory', async () => {
    const missing = await cacheMountDirectory(
      cacheMount({ selector: '/nowhere' }),
      { view: stage, snapshot: 'a' },
      caches,
      signal,
    ).catch((error: unknown) => error);
    expect(isTbuildError(missing, 'TB_COPY_SOURCE_NOT_FOUND')).toBe(true);
    expect(String(missing)).toContain('/nowhere');
    const file = await cacheMountDirectory(
      cacheMount({ selector: '/seeded/sub/file' }),
      { view: stage, snapshot: 'a' },
      caches,
      signal,
    ).catch((error: unknown) => error);
    expect(isTbuildError(file, 'TB_FILEOP')).toBe(true);
    expect(String(file)).toContain('/c');
  });
});
