/**
 * At most `size` holders at once; the others wait first come, first served.
 * A node takes jobs from more than one queue (the shared one, its own, a dead
 * node's); the gate keeps the builds it runs at once to --max-concurrent-builds.
 */
export class SlotGate {
  readonly #size: number;
  readonly #waiting: (() => void)[] = [];
  #held = 0;

  constructor(size: number) {
    this.#size = size;
  }

  get held(): number {
    return this.#held;
  }

  async acquire(): Promise<() => void> {
    if (this.#held >= this.#size) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#held += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter, so #held stays counted.
      if (next === undefined) this.#held -= 1;
      else next();
    };
  }
}
