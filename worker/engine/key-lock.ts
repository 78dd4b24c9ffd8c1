import { mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  digestHex,
  isTbuildError,
  TbuildError,
  throwIfAborted,
  type Digest,
} from '../../core/index.js';
import { nativeFs } from '../../runtime/index.js';

/** A held cache-key lock; release it once the step's result is saved (or failed). */
export interface HeldKeyLock {
  release(): Promise<void>;
}

/** How long a waiter sleeps between tries, doubling from the first to the last. */
const FIRST_POLL_MS = 2;
const LAST_POLL_MS = 100;

/**
 * One exclusive lock per cache key, shared by every tbuild process on a root, so
 * two builds that miss the same key run its step once: the second waits, then
 * finds the first one's saved result (BuildKit gets this from one daemon; we have
 * many processes).
 *
 * flock(2) on `<dir>/<key hex>` rather than cache/fs/lock.ts's pid lock file:
 * the kernel releases a flock when its holder dies, at once and whatever pid
 * namespace the holder ran in, so there is no staleness to judge and no takeover
 * race, and there is one lock per step run, not per store, so a cheap lock
 * matters. Two opens in one process conflict as two processes do (a flock
 * belongs to the open file description), so builds within one process wait on
 * each other the same way.
 *
 * Waiting polls flock(LOCK_NB) instead of blocking a libuv thread in flock(LOCK_EX):
 * cancelling is then only ceasing to poll, where a blocked thread could not be
 * woken, and each try is one syscall.
 *
 * The holder unlinks the file before it closes it, so locks of finished steps leave
 * nothing behind. A waiter that then gets the lock of the unlinked file sees that
 * `path` is no longer its file and opens it again.
 */
export async function lockCacheKey(
  dir: string,
  key: Digest,
  signal: AbortSignal,
): Promise<HeldKeyLock> {
  const path = join(dir, digestHex(key));
  await mkdir(dir, { recursive: true }).catch((error: unknown) => {
    throw lockIoError('create', dir, error);
  });
  let pause = FIRST_POLL_MS;
  for (;;) {
    throwIfAborted(signal);
    const handle = await open(path, 'a').catch((error: unknown) => {
      throw lockIoError('open', path, error);
    });
    let held = false;
    try {
      while (!nativeFs.tryLockExclusive(handle.fd)) {
        await sleep(pause, undefined, { signal }).catch(() => undefined);
        throwIfAborted(signal);
        pause = Math.min(pause * 2, LAST_POLL_MS);
      }
      held = await isStillAt(handle, path);
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw isTbuildError(error) ? error : lockIoError('lock', path, error);
    }
    if (held) return { release: () => release(handle, path) };
    await handle.close().catch(() => undefined);
  }
}

/** The locked file is still the one at `path` (its last holder did not unlink it first). */
async function isStillAt(handle: FileHandle, path: string): Promise<boolean> {
  const [mine, current] = await Promise.all([
    handle.stat(),
    stat(path).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }),
  ]);
  return current !== undefined && current.ino === mine.ino && current.dev === mine.dev;
}

async function release(handle: FileHandle, path: string): Promise<void> {
  // Unlink while still holding it: a waiter never takes a file that is about to vanish.
  await unlink(path).catch(() => undefined);
  await handle.close().catch(() => undefined);
}

function lockIoError(action: string, path: string, cause: unknown): TbuildError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new TbuildError('TB_STORE_IO', `cannot ${action} the step lock ${path}: ${why}`, {
    details: { path, errno: (cause as NodeJS.ErrnoException | undefined)?.code },
    cause,
  });
}

/**
 * Removes the lock files a killed holder left in `dir` (a released lock removes
 * its own), taking each lock first as a holder would, so a lock in use is never
 * removed and a waiter on a removed file opens it again (lockCacheKey). Returns
 * how many were removed; a missing `dir` has none.
 */
export async function removeFreeKeyLocks(dir: string, signal: AbortSignal): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    throwIfAborted(signal);
    const path = join(dir, name);
    const handle = await open(path, 'r').catch(() => undefined);
    if (handle === undefined) continue;
    try {
      if (nativeFs.tryLockExclusive(handle.fd) && (await isStillAt(handle, path))) {
        await unlink(path);
        removed++;
      }
    } catch {
      // Removed meanwhile, or not ours to judge: the next open tries again.
    } finally {
      await handle.close().catch(() => undefined);
    }
  }
  return removed;
}
