import { canceledError } from '../core/index.js';

/**
 * One slot of a Semaphore, held by one step.
 *
 * A step that stops using the CPU (its processes sleep or wait on I/O) can
 * `lend()` the slot back to the pool so another step starts, and `reclaim()`
 * it when it is busy again. Reclaiming waits for a free slot, ahead of every
 * step that has not started: the pool never gives out more than its size, so
 * at most that many steps hold a slot at any moment. What the step does while
 * it waits is its holder's business (the worker freezes a RUN's processes).
 *
 * Every method is idempotent in its state: lending a lent slot, reclaiming a
 * held one and anything after `release()` do nothing.
 */
export interface Permit {
  /** Gives the slot back for good; a pending reclaim stops waiting and resolves. */
  release(): void;
  /** Returns the slot to the pool while the holder keeps its permit. */
  lend(): void;
  /**
   * Takes a lent slot back once one is free. Concurrent calls share one wait;
   * an aborted wait rejects with TB_CANCELED and leaves the slot lent.
   */
  reclaim(signal: AbortSignal): Promise<void>;
}

type PermitState = 'held' | 'lent' | 'reclaiming' | 'released';

/** Reclaims are served before every step waiting to start, first come, first served. */
const RECLAIM_PRIORITY = Number.NEGATIVE_INFINITY;

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

  /** Free slots; never negative. */
  get available(): number {
    return this.#available;
  }

  /** How many acquire() and reclaim() calls are waiting. */
  get waiting(): number {
    return this.#queue.length;
  }

  async acquire(signal: AbortSignal, priority = 0): Promise<Permit> {
    await this.#take(signal, priority);
    return this.#permit();
  }

  /** Takes a free slot, or waits for one in the queue. */
  #take(signal: AbortSignal, priority: number): Promise<void> {
    if (signal.aborted) return Promise.reject(canceledError(signal));
    // Waiters exist only while nothing is available, so this never jumps the queue.
    if (this.#available > 0) {
      this.#available -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Waiter = {
        priority,
        grant: () => {
          signal.removeEventListener('abort', entry.onAbort);
          resolve();
        },
        onAbort: () => {
          this.#drop(entry);
          reject(canceledError(signal));
        },
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
      // After every waiter of the same or a lower priority: first come, first served among equals.
      const before = this.#queue.findIndex((waiter) => waiter.priority > priority);
      this.#queue.splice(before < 0 ? this.#queue.length : before, 0, entry);
    });
  }

  #drop(entry: Waiter): void {
    const index = this.#queue.indexOf(entry);
    if (index >= 0) this.#queue.splice(index, 1);
  }

  /** A slot comes back: it goes to the next waiter, else to the pool. */
  #giveBack(): void {
    const next = this.#queue.shift();
    if (next === undefined) this.#available += 1;
    else next.grant();
  }

  #permit(): Permit {
    let state: PermitState = 'held';
    let reclaiming: { promise: Promise<void>; cancel: () => void } | undefined;
    return {
      release: () => {
        // A lent slot is already back in the pool.
        if (state === 'held') this.#giveBack();
        state = 'released';
        reclaiming?.cancel();
      },
      lend: () => {
        if (state !== 'held') return;
        state = 'lent';
        this.#giveBack();
      },
      reclaim: (signal) => {
        if (state === 'reclaiming' && reclaiming !== undefined) return reclaiming.promise;
        if (state !== 'lent') return Promise.resolve();
        state = 'reclaiming';
        // A release while waiting ends the wait: the step is over, nothing to take back.
        const released = new AbortController();
        const both = AbortSignal.any([signal, released.signal]);
        const promise = this.#take(both, RECLAIM_PRIORITY).then(
          () => {
            reclaiming = undefined;
            if (state === 'reclaiming') state = 'held';
            // Released in the same turn the slot came: hand it on.
            else this.#giveBack();
          },
          (error: unknown) => {
            reclaiming = undefined;
            if (released.signal.aborted) return;
            state = 'lent';
            throw error;
          },
        );
        reclaiming = {
          promise,
          cancel: () => {
            released.abort();
          },
        };
        return promise;
      },
    };
  }
}
