import { canceledError } from '../core/index.js';

/**
 * One slot of a Semaphore, held by one step.
 *
 * A step that stops using the CPU (its processes sleep or wait on I/O) can
 * `lend()` the slot back to the pool so another step starts, and `reclaim()`
 * it when it is busy again. Reclaiming never waits: like Go's scheduler
 * handing back a P to a goroutine returning from a syscall, the step keeps
 * running and the pool goes "in debt" (fewer than zero available) until
 * enough slots come back; no new step starts meanwhile.
 *
 * Every method is idempotent in its state: lending a lent slot, reclaiming a
 * held one and anything after `release()` do nothing.
 */
export interface Permit {
  /** Gives the slot back for good. */
  release(): void;
  /** Returns the slot to the pool while the holder keeps running. */
  lend(): void;
  /** Takes a lent slot back at once, even if that leaves the pool in debt. */
  reclaim(): void;
}

type PermitState = 'held' | 'lent' | 'released';

interface Waiter {
  readonly priority: number;
  readonly grant: () => void;
  readonly onAbort: () => void;
}

/**
 * A counting semaphore with abortable waits: bounds how many steps run at once
 * (BuildKit's max-parallelism; unbounded parallelism is a known cause of OOMs).
 * Waiters are served by priority (lower first), then first come, first
 * served. Permits can be lent while their holder is idle (see Permit).
 */
export class Semaphore {
  #available: number;
  readonly #queue: Waiter[] = [];

  constructor(permits: number) {
    this.#available = Math.max(1, Math.floor(permits));
  }

  /** Free slots; negative while reclaimed permits put the pool in debt. */
  get available(): number {
    return this.#available;
  }

  /** How many acquire() calls are waiting. */
  get waiting(): number {
    return this.#queue.length;
  }

  async acquire(signal: AbortSignal, priority = 0): Promise<Permit> {
    if (signal.aborted) throw canceledError(signal);
    // Waiters exist only while nothing is available, so this never jumps the queue.
    if (this.#available > 0) {
      this.#available -= 1;
      return this.#permit();
    }
    await new Promise<void>((resolve, reject) => {
      const entry: Waiter = {
        priority,
        grant: () => {
          signal.removeEventListener('abort', entry.onAbort);
          resolve();
        },
        onAbort: () => {
          const index = this.#queue.indexOf(entry);
          if (index >= 0) this.#queue.splice(index, 1);
          reject(canceledError(signal));
        },
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
      // After every waiter of the same or a lower priority: first come, first served among equals.
      const before = this.#queue.findIndex((waiter) => waiter.priority > priority);
      this.#queue.splice(before < 0 ? this.#queue.length : before, 0, entry);
    });
    return this.#permit();
  }

  /** A slot comes back: it pays off debt first, else goes to the next waiter, else to the pool. */
  #giveBack(): void {
    const next = this.#available < 0 ? undefined : this.#queue.shift();
    if (next === undefined) this.#available += 1;
    else next.grant();
  }

  #permit(): Permit {
    let state: PermitState = 'held';
    return {
      release: () => {
        // A lent slot is already back in the pool.
        if (state === 'held') this.#giveBack();
        state = 'released';
      },
      lend: () => {
        if (state !== 'held') return;
        state = 'lent';
        this.#giveBack();
      },
      reclaim: () => {
        if (state !== 'lent') return;
        state = 'held';
        this.#available -= 1;
      },
    };
  }
}
