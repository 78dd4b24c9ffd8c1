import { throwIfAborted } from '../../core/index.js';

/** How long a run of synchronous calls may hold the event loop before it yields. */
export const DEFAULT_SLICE_MS = 8;

/**
 * Lets a long run of synchronous filesystem calls share the event loop.
 *
 * Walking a big tree (a 20k-file context) with fs.promises costs a thread-pool
 * round trip per call, tens of microseconds around a syscall that takes a few
 * on cached metadata, so the round trips dominate. Tree walks therefore call
 * the sync API and, every few milliseconds, `await slicer.pause()` so timers,
 * progress output and other steps still run. Between slices the walk checks
 * its AbortSignal.
 */
export class TimeSlicer {
  readonly #sliceMs: number;
  readonly #signal: AbortSignal | undefined;
  #sliceStart = performance.now();
  #pending: Promise<void> | undefined;

  constructor(signal?: AbortSignal, sliceMs = DEFAULT_SLICE_MS) {
    this.#signal = signal;
    this.#sliceMs = sliceMs;
  }

  /** True when the current slice is used up and the caller should `await pause()`. */
  due(): boolean {
    return this.#pending !== undefined || performance.now() - this.#sliceStart >= this.#sliceMs;
  }

  /**
   * Yields to the event loop once (callers parked at the same time share the
   * wait), then starts a new slice. Throws when the signal has aborted.
   */
  async pause(): Promise<void> {
    this.#pending ??= new Promise<void>((resolve) => {
      setImmediate(() => {
        this.#pending = undefined;
        this.#sliceStart = performance.now();
        resolve();
      });
    });
    await this.#pending;
    throwIfAborted(this.#signal);
  }
}
