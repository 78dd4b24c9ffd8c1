import { noopLogger, type Logger } from '../../../core/index.js';
import type { RunningStep } from '../../../runtime/index.js';
import type { ParallelismSlot } from '../../../solver/index.js';

/**
 * What `--max-parallelism N` promises of a RUN (docs/config.md): its processes
 * use the CPU only while the step holds one of the N slots. A RUN whose
 * processes want no CPU (they sleep, wait on the network or on disk) lends its
 * slot so another step starts; once they want the CPU again they are frozen
 * (cgroup freezer) until a slot is free, which they get before any step that
 * has not started. Frozen steps only wait for slot holders, and a holder that
 * idles lends its slot, so steps that wait on each other while idle all go on.
 *
 * The decision is read from samples of the step's cgroup: its CPU time, and
 * its threads' scheduler states. A thread in state R is running or waiting for
 * a CPU, so a busy step is never taken for idle however loaded the machine is;
 * CPU time alone cannot tell a step that sleeps from one that waits its turn.
 */

/** How often a running step is sampled. */
export const SAMPLE_INTERVAL_MS = 5;
/**
 * Over this share of one CPU a sample is not idle, even if no thread was
 * runnable at that instant: the step ran between the two readings.
 */
export const IDLE_CPU_SHARE = 0.05;
/**
 * How long a step must stay idle before it lends: longer than the gaps of a
 * busy script (fork, exec, a quick read). A lend costs little either way: the
 * lent step is frozen as soon as it is busy, until a slot is free.
 */
export const IDLE_BEFORE_LEND_MS = 10;
/**
 * A lent step that used over this share of one CPU in a sample is busy. Not
 * the only sign: on a loaded machine a busy step gets less than this, so a
 * runnable thread in two samples in a row, each with some CPU used, counts too.
 */
export const BUSY_CPU_SHARE = 0.5;

/** A step's threads at one instant (RunningStep.threads). */
export interface ThreadCount {
  readonly total: number;
  readonly runnable: number;
}

/** What the lender does to the step and its slot; RunningStep and ParallelismSlot behind it. */
export interface LenderTarget {
  readonly slot: ParallelismSlot;
  /** Freezes or thaws the step's processes. */
  freeze(frozen: boolean): void;
  readonly signal: AbortSignal;
  readonly logger?: Logger;
}

type LenderState = 'held' | 'lent' | 'waiting' | 'stopped';

/**
 * The decision, fed with samples (cumulative CPU ns, the step's threads read
 * on demand, a time in ms), kept apart from the timer so it can be tested
 * sample by sample.
 */
export class SlotLender {
  readonly #target: LenderTarget;
  readonly #logger: Logger;
  #state: LenderState = 'held';
  #last: { cpuNs: number; atMs: number } | undefined;
  #idleMs = 0;
  #runnableBefore = false;
  #reclaim: Promise<void> | undefined;

  constructor(target: LenderTarget) {
    this.#target = target;
    this.#logger = target.logger ?? noopLogger;
  }

  /** 'held': the step has its slot; 'lent': it runs without; 'waiting': frozen until it has one. */
  get state(): LenderState {
    return this.#state;
  }

  /**
   * One sample; undefined CPU time (the cgroup is gone or unreadable) stops
   * lending. `threads` is read only when the CPU time leaves the answer open.
   */
  sample(cpuNs: number | undefined, threads: () => ThreadCount | undefined, atMs: number): void {
    if (this.#state !== 'held' && this.#state !== 'lent') return;
    if (cpuNs === undefined) {
      // The run is settling: a lent slot is taken back now, for what follows it.
      if (this.#state === 'lent') this.#wait();
      else this.#state = 'stopped';
      return;
    }
    const last = this.#last;
    this.#last = { cpuNs, atMs };
    if (last === undefined || atMs <= last.atMs) return;
    const elapsedMs = atMs - last.atMs;
    const share = (cpuNs - last.cpuNs) / (elapsedMs * 1e6);
    if (this.#state === 'held') this.#whileHeld(share, threads, elapsedMs);
    else this.#whileLent(share, threads);
  }

  #whileHeld(share: number, threads: () => ThreadCount | undefined, elapsedMs: number): void {
    let idle = share <= IDLE_CPU_SHARE;
    if (idle) {
      const now = threads();
      // No threads yet: the sandbox is still being set up, which is work for this step.
      idle = now !== undefined && now.total > 0 && now.runnable === 0;
    }
    this.#idleMs = idle ? this.#idleMs + elapsedMs : 0;
    if (this.#idleMs < IDLE_BEFORE_LEND_MS) return;
    this.#state = 'lent';
    this.#runnableBefore = false;
    this.#logger.debug('step idle: lending its parallelism slot', { idleMs: this.#idleMs });
    this.#target.slot.lend();
  }

  #whileLent(share: number, threads: () => ThreadCount | undefined): void {
    // A step that got (almost) no CPU used none without a slot: its threads are
    // looked at only once it runs, which spares the reads for the sleepers.
    const runnable = share > IDLE_CPU_SHARE && (threads()?.runnable ?? 0) > 0;
    const busy = share > BUSY_CPU_SHARE || (runnable && this.#runnableBefore);
    this.#runnableBefore = runnable;
    if (!busy) return;
    this.#logger.debug('step busy without a slot: frozen until it has one', {
      cpuShare: Math.round(share * 100) / 100,
    });
    this.#wait();
  }

  /** Freezes the step and waits for a slot, then lets the step go on. */
  #wait(): void {
    this.#target.freeze(true);
    this.#state = 'waiting';
    this.#reclaim = this.#target.slot.reclaim(this.#target.signal).then(
      () => {
        this.#reclaim = undefined;
        this.#target.freeze(false);
        if (this.#state !== 'stopped') this.#state = 'held';
        this.#idleMs = 0;
        // The frozen time is nobody's idleness: start measuring afresh.
        this.#last = undefined;
      },
      (error: unknown) => {
        this.#reclaim = undefined;
        // Cancelled: the step is being killed, which a frozen process would delay.
        this.#target.freeze(false);
        this.#state = 'stopped';
        throw error;
      },
    );
    // Whoever waits on it sees the rejection; the sampler does not.
    this.#reclaim.catch(() => undefined);
  }

  /**
   * Stops sampling once the step's processes are gone, and holds the slot
   * again for what follows them (the commit): resolves when it is held.
   */
  async stop(): Promise<void> {
    if (this.#state === 'lent') this.#wait();
    const pending = this.#reclaim;
    this.#state = 'stopped';
    await pending;
  }
}

/**
 * Samples a running step every SAMPLE_INTERVAL_MS and lends its slot while it
 * idles. Returns the function to call when the step's processes are gone: it
 * stops sampling and resolves once the slot is held again. A step whose CPU
 * time or threads cannot be read, or that cannot be frozen, never lends.
 */
export function lendSlotWhileIdle(
  slot: ParallelismSlot,
  step: RunningStep,
  signal: AbortSignal,
  logger?: Logger,
): () => Promise<void> {
  const first = step.cpuTimeNs();
  // Thawing a step that is not frozen changes nothing and says whether freezing works.
  if (first === undefined || step.threads() === undefined || !step.freeze(false)) {
    return () => Promise.resolve();
  }
  const lender = new SlotLender({
    slot,
    signal,
    freeze: (frozen) => {
      step.freeze(frozen);
    },
    ...(logger === undefined ? {} : { logger }),
  });
  const threads = (): ThreadCount | undefined => step.threads();
  lender.sample(first, threads, performance.now());
  const timer = setInterval(() => {
    lender.sample(step.cpuTimeNs(), threads, performance.now());
  }, SAMPLE_INTERVAL_MS);
  // The step's own promise keeps the process alive; the sampler must not.
  timer.unref();
  return () => {
    clearInterval(timer);
    return lender.stop();
  };
}
