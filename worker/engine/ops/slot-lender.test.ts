import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../../solver/index.js';
import {
  BUSY_CPU_SHARE,
  IDLE_BEFORE_LEND_MS,
  IDLE_CPU_SHARE,
  lendSlotWhileIdle,
  SAMPLE_INTERVAL_MS,
  SlotLender,
} from './slot-lender.js';

/** A lender over a real one-slot semaphore; `available` says whether the slot is lent. */
async function setup() {
  const semaphore = new Semaphore(1);
  const permit = await semaphore.acquire(new AbortController().signal);
  const lender = new SlotLender(permit);
  let cpuNs = 0;
  let atMs = 0;
  /** Advances time by `ms` during which the step used `share` of one CPU. */
  const run = (ms: number, share: number): void => {
    atMs += ms;
    cpuNs += share * ms * 1e6;
    lender.sample(cpuNs, atMs);
  };
  lender.sample(cpuNs, atMs);
  return { semaphore, permit, lender, run };
}

const STEP = SAMPLE_INTERVAL_MS;
const idleSamples = Math.ceil(IDLE_BEFORE_LEND_MS / STEP);

describe('SlotLender', () => {
  it('lends only after the step has stayed idle long enough', async () => {
    const { semaphore, lender, run } = await setup();
    for (let i = 0; i < idleSamples - 1; i++) run(STEP, IDLE_CPU_SHARE / 2);
    expect(lender.lent).toBe(false);
    expect(semaphore.available).toBe(0);
    run(STEP, 0);
    expect(lender.lent).toBe(true);
    expect(semaphore.available).toBe(1);
  });

  it('never lends while the step uses the CPU', async () => {
    const { semaphore, run } = await setup();
    for (let i = 0; i < 20; i++) run(STEP, 1);
    expect(semaphore.available).toBe(0);
  });

  it('restarts the idle count when a sample is not idle', async () => {
    const { lender, run } = await setup();
    for (let i = 0; i < idleSamples - 1; i++) run(STEP, 0);
    run(STEP, IDLE_CPU_SHARE * 2);
    for (let i = 0; i < idleSamples - 1; i++) run(STEP, 0);
    expect(lender.lent).toBe(false);
  });

  it('reclaims when the step gets busy, going into debt if the slot was taken', async () => {
    const { semaphore, lender, run } = await setup();
    for (let i = 0; i < idleSamples; i++) run(STEP, 0);
    const borrower = await semaphore.acquire(new AbortController().signal);
    run(STEP, BUSY_CPU_SHARE * 2);
    expect(lender.lent).toBe(false);
    expect(semaphore.available).toBe(-1);
    borrower.release();
    expect(semaphore.available).toBe(0);
  });

  it('keeps a lent slot lent between the idle and busy thresholds', async () => {
    const { lender, run } = await setup();
    for (let i = 0; i < idleSamples; i++) run(STEP, 0);
    const between = (IDLE_CPU_SHARE + BUSY_CPU_SHARE) / 2;
    for (let i = 0; i < 10; i++) run(STEP, between);
    expect(lender.lent).toBe(true);
  });

  it('takes the slot back when stopped or when the CPU time can no longer be read', async () => {
    const first = await setup();
    for (let i = 0; i < idleSamples; i++) first.run(STEP, 0);
    first.lender.stop();
    expect(first.semaphore.available).toBe(0);
    first.run(10 * STEP, 0);
    expect(first.lender.lent).toBe(false);

    const second = await setup();
    for (let i = 0; i < idleSamples; i++) second.run(STEP, 0);
    second.lender.sample(undefined, 10_000);
    expect(second.semaphore.available).toBe(0);
    second.run(10 * STEP, 0);
    expect(second.lender.lent).toBe(false);
  });

  it('a step whose CPU time cannot be measured never lends', async () => {
    const semaphore = new Semaphore(1);
    const permit = await semaphore.acquire(new AbortController().signal);
    const stop = lendSlotWhileIdle(permit, { cpuTimeNs: () => undefined });
    await new Promise((resolve) => setTimeout(resolve, IDLE_BEFORE_LEND_MS + 3 * STEP));
    expect(semaphore.available).toBe(0);
    stop();
  });

  it('samples on its own timer and stops when told', async () => {
    const semaphore = new Semaphore(1);
    const permit = await semaphore.acquire(new AbortController().signal);
    const stop = lendSlotWhileIdle(permit, { cpuTimeNs: () => 0 });
    // No timed assertion: wait (generously) until it lends.
    for (let waited = 0; semaphore.available === 0 && waited < 100; waited++) {
      await new Promise((resolve) => setTimeout(resolve, STEP));
    }
    expect(semaphore.available).toBe(1);
    stop();
    expect(semaphore.available).toBe(0);
  });
});
