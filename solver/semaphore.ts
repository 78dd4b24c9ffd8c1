import { canceledError } from '../core/index.js';

/**
 * A counting semaphore with abortable waits: bounds how many steps run at once
 * (BuildKit's max-parallelism; unbounded parallelism is a known cause of OOMs).
 * Waiters are served first come, first served.
 */
export class Semaphore {
  #available: number;
  readonly #queue: { grant: () => void; signal: AbortSignal; onAbort: () => void }[] = [];

  constructor(permits: number) {
    this.#available = Math.max(1, Math.floor(permits));
  }

  async acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) throw canceledError(signal);
    if (this.#available > 0) {
      this.#available -= 1;
      return this.#releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const entry = {
        grant: () => {
          signal.removeEventListener('abort', entry.onAbort);
          resolve();
        },
        signal,
        onAbort: () => {
          const index = this.#queue.indexOf(entry);
          if (index >= 0) this.#queue.splice(index, 1);
          reject(canceledError(signal));
        },
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
      this.#queue.push(entry);
    });
    return this.#releaser();
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next === undefined) this.#available += 1;
      else next.grant();
    };
  }
}
