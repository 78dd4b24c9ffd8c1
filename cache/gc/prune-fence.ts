import { setTimeout as sleep } from 'node:timers/promises';
import { TbuildError, throwIfAborted } from '../../core/index.js';
import { encodeChecked, readChecked, removeIfExists, writeFileAtomic } from '../fs/atomic.js';
import { currentOwner, isOwnerAlive, isProcessOwner } from '../fs/process-owner.js';

/**
 * How lease writers and prune stay out of each other's way without a lock
 * per lease write. A prune puts a marker on disk (under the store lock, which
 * prunes still share) before it reads any lease, and removes it when its
 * sweep is done; a lease writer checks for the marker only after its lease is
 * on disk. So either the prune reads the new lease (what it names is kept), or
 * the writer sees the marker and waits until the prune ends, after which the
 * caller's usual check (add to the lease, then look that the thing exists)
 * sees anything the prune removed. A lease update costs one write and one
 * lookup, where the lock cost three more writes and a read (about 3 ms here,
 * several times per build step).
 */
export class PruneFence {
  readonly #path: string;
  readonly #tmpDir: string;

  constructor(path: string, tmpDir: string) {
    this.#path = path;
    this.#tmpDir = tmpDir;
  }

  /** Runs a prune with the marker on disk. Callers hold the store lock. */
  async around<T>(run: () => Promise<T>): Promise<T> {
    await writeFileAtomic(this.#tmpDir, this.#path, encodeChecked(currentOwner()), {
      durable: false,
    });
    try {
      return await run();
    } finally {
      await removeIfExists(this.#path);
    }
  }

  /**
   * Returns once no prune runs: at once when there is no marker (the common
   * case), or when its owner is dead (a prune killed mid-way leaves it).
   */
  async wait(signal: AbortSignal, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let pause = 5;
    for (;;) {
      throwIfAborted(signal);
      const marker = await readChecked(this.#path);
      if (marker.kind !== 'ok' || !isProcessOwner(marker.value) || !isOwnerAlive(marker.value))
        return;
      if (Date.now() > deadline) {
        throw new TbuildError('TB_STORE_LOCK', `timed out waiting for a prune to finish`, {
          hint: 'another tbuild process is pruning this root; try again later',
          details: { path: this.#path, pid: marker.value.pid },
        });
      }
      await sleep(pause, undefined, { signal }).catch(() => undefined);
      pause = Math.min(pause * 2, 200);
    }
  }
}
