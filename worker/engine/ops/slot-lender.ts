import { noopLogger, type Logger } from '../../../core/index.js';
import type { RunningStep } from '../../../runtime/index.js';
import type { ParallelismSlot } from '../../../solver/index.js';

/**
 * `--max-parallelism` bounds the steps *using the CPU*, not the steps alive: a
 * RUN whose processes sleep or wait on the network or disk lends its slot so
 * another step starts, and takes it back when it gets busy (solver's Permit).
 * Idleness is read from the step's cgroup CPU time, sampled on a timer.
 */

/** How often the step's CPU time is sampled; a file read per running step each time. */
export const SAMPLE_INTERVAL_MS = 5;
/**
 * A sample under this share of one CPU counts as idle. Not zero: a sleeping
 * shell, a download or a process blocked on disk still costs a little.
 */
export const IDLE_CPU_SHARE = 0.05;
/**
 * How long a step must stay idle before it lends: longer than the gaps of a
 * busy script (fork, exec, a quick read), short enough that a one-second wait
 * hands over most of its second. A lend during a longer pause costs little:
 * the step takes its slot back as soon as it is busy, and no new step starts
 * while the pool is in debt.
 */
export const IDLE_BEFORE_LEND_MS = 10;
/**
 * Over this share of one CPU in the last sample a lent slot is reclaimed. Far
 * above IDLE_CPU_SHARE on purpose: a step in between keeps what it has, so one
 * hovering near a threshold does not flap between lent and held.
 */
export const BUSY_CPU_SHARE = 0.5;

/**
 * The decision, fed with samples (cumulative CPU ns and a time in ms), kept
 * apart from the timer so it can be tested sample by sample.
 */
export class SlotLender {
  readonly #slot: ParallelismSlot;
  readonly #logger: Logger;
  #last: { cpuNs: number; atMs: number } | undefined;
  #idleMs = 0;
  #lent = false;
  #stopped = false;

  constructor(slot: ParallelismSlot, logger: Logger = noopLogger) {
    this.#slot = slot;
    this.#logger = logger;
  }

  get lent(): boolean {
    return this.#lent;
  }

  /** One sample; undefined CPU time (the cgroup is gone or unreadable) stops the lender. */
  sample(cpuNs: number | undefined, atMs: number): void {
    if (this.#stopped) return;
    if (cpuNs === undefined) {
      this.stop();
      return;
    }
    const last = this.#last;
    this.#last = { cpuNs, atMs };
    if (last === undefined || atMs <= last.atMs) return;
    const elapsedMs = atMs - last.atMs;
    const share = (cpuNs - last.cpuNs) / (elapsedMs * 1e6);
    this.#idleMs = share <= IDLE_CPU_SHARE ? this.#idleMs + elapsedMs : 0;
    if (!this.#lent && this.#idleMs >= IDLE_BEFORE_LEND_MS) {
      this.#lent = true;
      this.#logger.debug('step idle: lending its parallelism slot', { idleMs: this.#idleMs });
      this.#slot.lend();
    } else if (this.#lent && share > BUSY_CPU_SHARE) {
      this.#reclaim(share);
    }
  }

  /** Takes a lent slot back: what follows the step's processes (commit) counts again. */
  stop(): void {
    this.#stopped = true;
    if (this.#lent) this.#reclaim(undefined);
  }

  #reclaim(share: number | undefined): void {
    this.#lent = false;
    this.#idleMs = 0;
    this.#logger.debug('step busy: reclaiming its parallelism slot', {
      ...(share === undefined ? {} : { cpuShare: Math.round(share * 100) / 100 }),
    });
    this.#slot.reclaim();
  }
}

/**
 * Samples a running step every SAMPLE_INTERVAL_MS and lends its slot while it
 * idles. Returns the function that stops sampling (and reclaims), to call when
 * the step's processes are gone. Does nothing when the step's CPU time cannot
 * be measured: such a step simply never lends.
 */
export function lendSlotWhileIdle(
  slot: ParallelismSlot,
  step: RunningStep,
  logger?: Logger,
): () => void {
  const lender = new SlotLender(slot, logger);
  const first = step.cpuTimeNs();
  if (first === undefined) return () => undefined;
  lender.sample(first, performance.now());
  const timer = setInterval(() => {
    lender.sample(step.cpuTimeNs(), performance.now());
  }, SAMPLE_INTERVAL_MS);
  // The step's own promise keeps the process alive; the sampler must not.
  timer.unref();
  return () => {
    clearInterval(timer);
    lender.stop();
  };
}
