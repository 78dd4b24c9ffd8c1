import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TbuildError, throwIfAborted, type Logger } from '../../core/index.js';
import { errnoCode, storeIoError } from './atomic.js';
import {
  currentOwner,
  isOwnerAlive,
  isProcessOwner,
  tempNameFor,
  type ProcessOwner,
} from './process-owner.js';

/**
 * An exclusive lock shared by every tbuild process on one root.
 *
 * Node has no flock(2), so this is a lock file made with link(2): the owner
 * writes `{pid, start, token}` to a temp file and links it to the lock path,
 * which either creates the whole file or fails with EEXIST (unlike
 * O_CREAT|O_EXCL followed by a write, which lets a waiter read an empty lock).
 * A lock whose owner process is dead is stale and is taken over. We chose
 * this over proper-lockfile, whose staleness is an mtime heartbeat: a
 * busy event loop (a GC walking a large store) can miss it and lose the lock,
 * while a pid + start time is exact on the local filesystem a root must be on.
 *
 * Within one process, holders queue on a promise chain, so the file is only
 * contended between processes.
 */
export class FileLock {
  private queue: Promise<void> = Promise.resolve();
  private readonly path: string;
  private readonly tmpDir: string;
  private readonly logger: Logger;

  constructor(path: string, tmpDir: string, logger: Logger) {
    this.path = path;
    this.tmpDir = tmpDir;
    this.logger = logger;
  }

  /** Runs `fn` holding the lock. Waits at most `timeoutMs` for it. */
  async with<T>(signal: AbortSignal, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    const previous = this.queue;
    let done!: () => void;
    this.queue = new Promise<void>((resolve) => (done = resolve));
    try {
      await previous;
      const token = await this.acquire(signal, timeoutMs);
      try {
        return await fn();
      } finally {
        await this.release(token);
      }
    } finally {
      done();
    }
  }

  private async acquire(signal: AbortSignal, timeoutMs: number): Promise<string> {
    const token = randomBytes(8).toString('hex');
    const mine = join(this.tmpDir, tempNameFor());
    await writeFile(mine, JSON.stringify({ ...currentOwner(), token })).catch((error: unknown) => {
      throw storeIoError('write', mine, error);
    });
    const deadline = Date.now() + timeoutMs;
    let wait = 5;
    try {
      for (;;) {
        throwIfAborted(signal);
        try {
          await link(mine, this.path);
          return token;
        } catch (error) {
          if (errnoCode(error) !== 'EEXIST') throw storeIoError('lock', this.path, error);
        }
        const holder = await this.readHolder();
        if (holder === 'gone') continue;
        if (holder !== 'unknown' && !isOwnerAlive(holder)) {
          await this.takeOver(holder);
          continue;
        }
        if (Date.now() > deadline) {
          throw new TbuildError('TB_STORE_LOCK', `timed out waiting for ${this.path}`, {
            hint: 'another tbuild process holds the store lock (a prune?); try again later',
            details: { path: this.path, holder },
          });
        }
        await sleep(wait, undefined, { signal }).catch(() => undefined);
        wait = Math.min(wait * 2, 200);
      }
    } finally {
      await unlink(mine).catch(() => undefined);
    }
  }

  private async readHolder(): Promise<(ProcessOwner & { token: string }) | 'gone' | 'unknown'> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return 'gone';
      throw storeIoError('read', this.path, error);
    }
    try {
      const value = JSON.parse(text) as unknown;
      if (isProcessOwner(value) && typeof (value as { token?: unknown }).token === 'string') {
        return value as ProcessOwner & { token: string };
      }
    } catch {
      // Fall through: a lock file we cannot read is waited on, never broken.
    }
    return 'unknown';
  }

  /**
   * Moves a stale lock aside, then checks that what was moved is the stale
   * lock that was read. If a third process took it over in between, the live
   * lock is linked back. (Only a lock that went stale, then got taken by one
   * waiter while another still acted on the old read, can race here.)
   */
  private async takeOver(stale: ProcessOwner & { token: string }): Promise<void> {
    this.logger.warn('taking over a stale store lock', { path: this.path, pid: stale.pid });
    const aside = join(this.tmpDir, `${tempNameFor()}.stale-lock`);
    try {
      await rename(this.path, aside);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return;
      throw storeIoError('take over', this.path, error);
    }
    try {
      const moved = JSON.parse(await readFile(aside, 'utf8')) as { token?: unknown };
      if (moved.token !== stale.token) await link(aside, this.path).catch(() => undefined);
    } catch {
      // An unreadable moved lock was not a live one we could restore.
    }
    await unlink(aside).catch(() => undefined);
  }

  private async release(token: string): Promise<void> {
    const holder = await this.readHolder().catch(() => 'unknown' as const);
    if (typeof holder === 'object' && holder.token === token) {
      await unlink(this.path).catch(() => undefined);
    } else {
      this.logger.warn('store lock was lost while held', { path: this.path });
    }
  }
}
