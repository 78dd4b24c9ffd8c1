import { loadAddon, type Sha256Handle } from './native/addon.js';

/**
 * The SHA-256 of a byte stream, hashed on libuv threads in the order the bytes
 * were given (runtime/native/src/sha256_stream.cc), so the thread that produces
 * a large stream (a layer tar) does not also spend its time hashing it.
 */
export class Sha256Stream {
  readonly #handle: Sha256Handle = loadAddon().sha256Create();
  /** The last update queued: each starts when the one before it is done. */
  #tail: Promise<void> = Promise.resolve();

  /**
   * Queues `bytes`, which are kept and must not change (nor be transferred to
   * another thread) until the returned promise resolves, once they are hashed.
   */
  update(bytes: Uint8Array): Promise<void> {
    const addon = loadAddon();
    const hashed = this.#tail.then(() => addon.sha256Update(this.#handle, bytes));
    // The chain must not reject unobserved when a caller drops this promise;
    // a failure still reaches the caller of digest().
    this.#tail = hashed;
    hashed.catch(() => undefined);
    return hashed;
  }

  /** The lowercase hex digest of every byte given, once all are hashed. Ends the stream. */
  async digest(): Promise<string> {
    await this.#tail;
    return loadAddon().sha256Digest(this.#handle);
  }
}
