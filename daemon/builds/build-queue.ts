import { TbuildError } from '../../core/index.js';

/** A build waiting for its turn; `run` settles when the build has ended. */
export interface QueuedBuild {
  readonly owner: string;
  run(): Promise<void>;
}

/**
 * The embedded build queue: at most `maxRunning` builds at once and at most
 * `maxQueued` waiting. Waiting builds start first in, first out within one
 * owner (a token), and owners take turns, so one CI job submitting fifty
 * builds does not starve another's single build.
 */
export class BuildQueue {
  readonly #maxRunning: number;
  readonly #maxQueued: number;
  /** Owners with waiting builds, in the order they first came, each with its builds in order. */
  readonly #waiting = new Map<string, QueuedBuild[]>();
  /** When each owner last had a build started (a count of starts; tokens are few). */
  readonly #lastServed = new Map<string, number>();
  #served = 0;
  #queued = 0;
  #running = 0;
  #onChange: () => void;

  constructor(options: {
    readonly maxRunning: number;
    readonly maxQueued: number;
    readonly onChange?: () => void;
  }) {
    this.#maxRunning = options.maxRunning;
    this.#maxQueued = options.maxQueued;
    this.#onChange = options.onChange ?? (() => undefined);
  }

  get queued(): number {
    return this.#queued;
  }

  get running(): number {
    return this.#running;
  }

  /** Adds a build; throws TB_SERVICE_QUEUE_FULL when `maxQueued` builds already wait. */
  enqueue(build: QueuedBuild): void {
    if (this.#queued >= this.#maxQueued)
      throw new TbuildError(
        'TB_SERVICE_QUEUE_FULL',
        `the build queue is full (${String(this.#maxQueued)} builds waiting)`,
        { hint: 'retry later, or raise --max-queue' },
      );
    const builds = this.#waiting.get(build.owner);
    if (builds === undefined) this.#waiting.set(build.owner, [build]);
    else builds.push(build);
    this.#queued += 1;
    this.#pump();
    this.#onChange();
  }

  /** Takes a waiting build out (cancelled before it started); false when it is not waiting. */
  remove(build: QueuedBuild): boolean {
    const builds = this.#waiting.get(build.owner);
    const index = builds?.indexOf(build) ?? -1;
    if (builds === undefined || index < 0) return false;
    builds.splice(index, 1);
    if (builds.length === 0) this.#waiting.delete(build.owner);
    this.#queued -= 1;
    this.#onChange();
    return true;
  }

  #pump(): void {
    while (this.#running < this.#maxRunning) {
      const next = this.#takeNext();
      if (next === undefined) return;
      this.#running += 1;
      void next
        .run()
        .catch(() => undefined)
        .finally(() => {
          this.#running -= 1;
          this.#pump();
          this.#onChange();
        });
    }
  }

  /**
   * The first build of the owner served longest ago (or never): its turn. An
   * owner that just started a build waits behind every other owner with a build.
   */
  #takeNext(): QueuedBuild | undefined {
    let chosen: string | undefined;
    for (const owner of this.#waiting.keys()) {
      if (chosen === undefined || this.#servedAt(owner) < this.#servedAt(chosen)) chosen = owner;
    }
    if (chosen === undefined) return undefined;
    const builds = this.#waiting.get(chosen) ?? [];
    const build = builds.shift();
    if (builds.length === 0) this.#waiting.delete(chosen);
    this.#lastServed.set(chosen, (this.#served += 1));
    this.#queued -= 1;
    return build;
  }

  #servedAt(owner: string): number {
    return this.#lastServed.get(owner) ?? 0;
  }
}
