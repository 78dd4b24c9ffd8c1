import { canceledError, toTbuildError } from '../core/index.js';

/**
 * Single-flight with shared cancellation (BuildKit's flightcontrol): callers
 * asking for the same key wait on one run of the work. Each caller brings its
 * own AbortSignal; a caller that aborts stops waiting at once, but the work
 * itself is aborted only when every caller has aborted, so cancelling one build
 * never kills a step another build is waiting on.
 */
export class SharedTasks<T> {
  readonly #running = new Map<string, Flight<T>>();

  /** Runs `work` for `key` unless a run is already in flight, and waits for it. */
  run(key: string, signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let flight = this.#running.get(key);
    if (flight === undefined) {
      const controller = new AbortController();
      const created: Flight<T> = {
        controller,
        waiters: 0,
        promise: Promise.resolve() as Promise<T>,
      };
      created.promise = work(controller.signal).finally(() => {
        if (this.#running.get(key) === created) this.#running.delete(key);
      });
      // A flight whose every waiter left still settles; nobody may observe it.
      created.promise.catch(() => undefined);
      this.#running.set(key, created);
      flight = created;
    }
    return wait(flight, signal);
  }

  /** Keys with work in flight, for tests and diagnostics. */
  get size(): number {
    return this.#running.size;
  }
}

interface Flight<T> {
  readonly controller: AbortController;
  waiters: number;
  promise: Promise<T>;
}

function wait<T>(flight: Flight<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(canceledError(signal));
  flight.waiters += 1;
  return new Promise<T>((resolve, reject) => {
    const leave = (): void => {
      signal.removeEventListener('abort', onAbort);
      flight.waiters -= 1;
    };
    const onAbort = (): void => {
      leave();
      if (flight.waiters === 0) flight.controller.abort(signal.reason);
      reject(canceledError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    flight.promise.then(
      (value) => {
        leave();
        resolve(value);
      },
      (error: unknown) => {
        leave();
        reject(toTbuildError(error));
      },
    );
  });
}
