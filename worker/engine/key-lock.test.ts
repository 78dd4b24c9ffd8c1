import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Digest } from '../../core/index.js';
import { nativeBuildPath } from '../../runtime/index.js';
import { lockCacheKey, removeFreeKeyLocks } from './key-lock.js';

const key = sha256Digest('a step');
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tbuild-key-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Resolves when `promise` settles, to whether it had settled after the current turns. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  return done;
}

describe('lockCacheKey', () => {
  it('lets one holder at a time have a key, and leaves no file once released', async () => {
    const signal = new AbortController().signal;
    const first = await lockCacheKey(dir, key, signal);
    const second = lockCacheKey(dir, key, signal);
    const other = await lockCacheKey(dir, sha256Digest('another step'), signal);
    expect(await settled(second)).toBe(false);
    await first.release();
    await (await second).release();
    await other.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('stops waiting with TB_CANCELED when the signal aborts', async () => {
    const held = await lockCacheKey(dir, key, new AbortController().signal);
    const controller = new AbortController();
    const waiting = lockCacheKey(dir, key, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'TB_CANCELED' });
    await held.release();
  });

  it('is released by the kernel when the holding process dies', async () => {
    // A child process flocks the key's file with the same addon, then is killed -9.
    const addon = nativeBuildPath('tbuild_native.node');
    const path = join(dir, key.slice('sha256:'.length));
    const script = `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(path)},'a');
      if(!require(${JSON.stringify(addon)}).tryLockExclusive(fd))process.exit(3);
      process.stdout.write('held');setInterval(()=>{},1000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => {
        resolve();
      });
      child.once('exit', (code) => {
        reject(new Error(`child exited ${String(code)}`));
      });
    });
    const waiting = lockCacheKey(dir, key, new AbortController().signal);
    expect(await settled(waiting)).toBe(false);
    child.kill('SIGKILL');
    const held = await waiting;
    await held.release();
  });

  it('removes files a killed holder left, never one held', async () => {
    const signal = new AbortController().signal;
    const held = await lockCacheKey(dir, key, signal);
    // A file as a killed holder leaves it: present, unlocked.
    const left = join(dir, sha256Digest('killed').slice('sha256:'.length));
    await writeFile(left, '');
    await expect(removeFreeKeyLocks(dir, signal)).resolves.toBe(1);
    expect(await readdir(dir)).toEqual([key.slice('sha256:'.length)]);
    const waiting = lockCacheKey(dir, key, signal);
    expect(await settled(waiting)).toBe(false);
    await held.release();
    await (await waiting).release();
    await expect(removeFreeKeyLocks(join(dir, 'missing'), signal)).resolves.toBe(0);
  });
});
