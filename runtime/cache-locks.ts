import { throwIfAborted } from '../core/index.js';
import type { CacheSharing } from './types.js';

/**
 * Cache mount sharing within this process (BuildKit's semantics): `shared` lets
 * every run use the directory at once; `locked` waits until no other run holds
 * it; `private` takes the directory if free, else a sibling copy of its own
 * (`<dir>.private-<n>`, kept for later private users). Across processes sharing a
 * state root, only `shared` is safe today.
 */
export class CacheLocks {
  readonly #holders = new Map<string, number>();
  readonly #waiters = new Map<string, (() => void)[]>();

  /** Resolves to the directory to mount and a release function. */
  async acquire(
    source: string,
    sharing: CacheSharing,
    signal: AbortSignal,
  ): Promise<{ dir: string; release: () => void }> {
    if (sharing === 'shared') return { dir: source, release: () => undefined };
    if (sharing === 'private') {
      for (let n = 0; ; n++) {
        const dir = n === 0 ? source : `${source}.private-${String(n)}`;
        if ((this.#holders.get(dir) ?? 0) === 0) return { dir, release: this.#hold(dir) };
      }
    }
    while ((this.#holders.get(source) ?? 0) > 0) {
      throwIfAborted(signal);
      await new Promise<void>((resolve) => {
        const queue = this.#waiters.get(source) ?? [];
        queue.push(resolve);
        this.#waiters.set(source, queue);
        signal.addEventListener(
          'abort',
          () => {
            resolve();
          },
          { once: true },
        );
      });
    }
    throwIfAborted(signal);
    return { dir: source, release: this.#hold(source) };
  }

  #hold(dir: string): () => void {
    this.#holders.set(dir, (this.#holders.get(dir) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holders.set(dir, (this.#holders.get(dir) ?? 1) - 1);
      const queue = this.#waiters.get(dir) ?? [];
      this.#waiters.delete(dir);
      for (const wake of queue) wake();
    };
  }
}
