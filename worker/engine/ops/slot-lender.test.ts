import { describe, expect, it } from 'vitest';
import type { RunningStep } from '../../../runtime/index.js';
import { Semaphore } from '../../../solver/index.js';
import {
  BUSY_CPU_SHARE,
  IDLE_BEFORE_LEND_MS,
  IDLE_CPU_SHARE,
  lendSlotWhileIdle,
  SAMPLE_INTERVAL_MS,
  SlotLender,
  type ThreadCount,
} from './slot-lender.js';

const never = (): AbortSignal => new AbortController().signal;

/** Lets every already-settled promise continuation run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const SLEEPING: ThreadCount = { total: 2, runnable: 0 };
const SPINNING: ThreadCount = { total: 2, runnable: 1 };

/**
 * A lender over a real one-slot semaphore, fed sample by sample. `frozen`
 * says what the lender last asked of the step's processes.
 */
async function setup(signal = never()) {
  const semaphore = new Semaphore(1);
  const permit = await semaphore.acquire(never());
  const step = { frozen: false };
  const lender = new SlotLender({
    slot: permit,
    signal,
    freeze: (frozen) => {
      step.frozen = frozen;
    },
  });
  let cpuNs = 0;
  let atMs = 0;
  /** Advances time by `ms` during which the step used `share` of one CPU, then samples it. */
  const run = (
    ms: number,
    share: number,
    threads: () => ThreadCount | undefined = () => SLEEPING,
  ): void => {
    atMs += ms;
    cpuNs += share * ms * 1e6;
    lender.sample(cpuNs, threads, atMs);
  };
  lender.sample(cpuNs, () => SLEEPING, atMs);
  return { semaphore, permit, lender, step, run };
}

const STEP = SAMPLE_INTERVAL_MS;
const idleSamples = Math.ceil(IDLE_BEFORE_LEND_MS / STEP);

/** A lender whose step has lent its slot and a second step that took it. */
async function lentAndTaken() {
  const setupResult = await setup();
  for (let i = 0; i < idleSamples; i++) setupResult.run(STEP, 0);
  expect(setupResult.lender.state).toBe('lent');
  const borrower = await setupResult.semaphore.acquire(never());
  return { ...setupResult, borrower };
}

describe('SlotLender', () => {
  it('lends only after the step has stayed idle long enough', async () => {
    const { semaphore, lender, run } = await setup();
    for (let i = 0; i < idleSamples - 1; i++) run(STEP, IDLE_CPU_SHARE / 2);
    expect(lender.state).toBe('held');
    expect(semaphore.available).toBe(0);
    run(STEP, 0);
    expect(lender.state).toBe('lent');
    expect(semaphore.available).toBe(1);
  });

  it('never lends while the step uses the CPU', async () => {
    const { semaphore, run } = await setup();
    for (let i = 0; i < 20; i++) run(STEP, 1);
    expect(semaphore.available).toBe(0);
  });

  it('never lends while a thread waits for a CPU, even when it got none (a loaded machine)', async () => {
    const { semaphore, lender, run } = await setup();
    for (let i = 0; i < 20; i++) run(STEP, 0, () => SPINNING);
    expect(lender.state).toBe('held');
    expect(semaphore.available).toBe(0);
  });

  it('never lends before the step has a process (the sandbox is being set up)', async () => {
    const { lender, run } = await setup();
    for (let i = 0; i < 20; i++) run(STEP, 0, () => ({ total: 0, runnable: 0 }));
    for (let i = 0; i < 20; i++) run(STEP, 0, () => undefined);
    expect(lender.state).toBe('held');
  });

  it('restarts the idle count when a sample is not idle', async () => {
    const { lender, run } = await setup();
    for (let i = 0; i < idleSamples - 1; i++) run(STEP, 0);
    run(STEP, IDLE_CPU_SHARE * 2);
    for (let i = 0; i < idleSamples - 1; i++) run(STEP, 0);
    run(STEP, 0, () => SPINNING);
    for (let i = 0; i < idleSamples - 1; i++) run(STEP, 0);
    expect(lender.state).toBe('held');
  });

  it('freezes a lent step that gets busy while its slot is taken, and thaws it with a slot', async () => {
    const { semaphore, lender, step, run, borrower } = await lentAndTaken();
    run(STEP, BUSY_CPU_SHARE * 2);
    expect(lender.state).toBe('waiting');
    expect(step.frozen).toBe(true);
    // Frozen: it neither runs nor is sampled until a slot is free.
    run(10 * STEP, 0);
    await settle();
    expect(step.frozen).toBe(true);
    expect(semaphore.available).toBe(0);
    borrower.release();
    await settle();
    expect(step.frozen).toBe(false);
    expect(lender.state).toBe('held');
    expect(semaphore.available).toBe(0);
  });

  it('takes a free slot back at once when the lent step gets busy', async () => {
    const { semaphore, lender, step, run } = await setup();
    for (let i = 0; i < idleSamples; i++) run(STEP, 0);
    run(STEP, 1);
    await settle();
    expect(lender.state).toBe('held');
    expect(step.frozen).toBe(false);
    expect(semaphore.available).toBe(0);
  });

  it('counts a lent step as busy when a thread is runnable in two samples in a row that used some CPU', async () => {
    const { lender, run } = await lentAndTaken();
    const some = BUSY_CPU_SHARE / 4;
    run(STEP, some, () => SPINNING);
    run(STEP, some);
    run(STEP, some, () => SPINNING);
    expect(lender.state).toBe('lent');
    // Runnable but given no CPU: it used none without a slot.
    run(STEP, 0, () => SPINNING);
    run(STEP, some, () => SPINNING);
    expect(lender.state).toBe('lent');
    run(STEP, some, () => SPINNING);
    expect(lender.state).toBe('waiting');
  });

  it('lets a lent step run without a slot while it stays under the busy thresholds', async () => {
    const { lender, step, run } = await lentAndTaken();
    const between = (IDLE_CPU_SHARE + BUSY_CPU_SHARE) / 2;
    for (let i = 0; i < 10; i++) run(STEP, between);
    expect(lender.state).toBe('lent');
    expect(step.frozen).toBe(false);
  });

  it('stop waits for the slot of a lent step, for what follows its processes', async () => {
    const { semaphore, lender, run, borrower } = await lentAndTaken();
    let stopped = false;
    const stop = lender.stop().then(() => {
      stopped = true;
    });
    run(10 * STEP, 0);
    await settle();
    expect(stopped).toBe(false);
    borrower.release();
    await stop;
    expect(lender.state).toBe('stopped');
    expect(semaphore.available).toBe(0);
  });

  it('takes the slot back when the CPU time can no longer be read', async () => {
    const { semaphore, lender, borrower } = await lentAndTaken();
    lender.sample(undefined, () => undefined, 10_000);
    expect(lender.state).toBe('waiting');
    borrower.release();
    await lender.stop();
    expect(semaphore.available).toBe(0);
  });

  it('thaws the step, and stop rejects, when the build is cancelled while it waits', async () => {
    const controller = new AbortController();
    const { lender, step, run, semaphore } = await setup(controller.signal);
    for (let i = 0; i < idleSamples; i++) run(STEP, 0);
    await semaphore.acquire(never());
    run(STEP, 1);
    expect(step.frozen).toBe(true);
    controller.abort();
    await expect(lender.stop()).rejects.toMatchObject({ code: 'TB_CANCELED' });
    // A frozen process would hold up the kill that follows a cancel.
    expect(step.frozen).toBe(false);
    expect(lender.state).toBe('stopped');
  });
});

/** A running step whose CPU time, threads and freezer the test sets. */
function fakeStep(options: {
  cpuNs: number | undefined;
  threads: ThreadCount | undefined;
  freezable: boolean;
}): RunningStep & { frozen: boolean } {
  const step = {
    frozen: false,
    cpuTimeNs: () => options.cpuNs,
    threads: () => options.threads,
    freeze: (frozen: boolean) => {
      if (!options.freezable) return false;
      step.frozen = frozen;
      return true;
    },
  };
  return step;
}

describe('lendSlotWhileIdle', () => {
  const waitForLend = async (semaphore: Semaphore) => {
    // No timed assertion: wait (generously) until it lends, or give up.
    for (let waited = 0; semaphore.available === 0 && waited < 100; waited++) {
      await new Promise((resolve) => setTimeout(resolve, STEP));
    }
  };

  it('samples on its own timer, and stop holds the slot again', async () => {
    const semaphore = new Semaphore(1);
    const permit = await semaphore.acquire(never());
    const step = fakeStep({ cpuNs: 0, threads: SLEEPING, freezable: true });
    const stop = lendSlotWhileIdle(permit, step, never());
    await waitForLend(semaphore);
    expect(semaphore.available).toBe(1);
    await stop();
    expect(semaphore.available).toBe(0);
  });

  for (const [what, step] of [
    ['whose CPU time cannot be read', { cpuNs: undefined, threads: SLEEPING, freezable: true }],
    ['whose threads cannot be read', { cpuNs: 0, threads: undefined, freezable: true }],
    ['that cannot be frozen', { cpuNs: 0, threads: SLEEPING, freezable: false }],
  ] as const) {
    it(`never lends the slot of a step ${what}`, async () => {
      const semaphore = new Semaphore(1);
      const permit = await semaphore.acquire(never());
      const stop = lendSlotWhileIdle(permit, fakeStep(step), never());
      // The sleeping step of the test above lends within this wait.
      await waitForLend(semaphore);
      expect(semaphore.available).toBe(0);
      await stop();
    });
  }
});
