import { describe, expect, it } from 'vitest';
import { TbuildError } from '../core/index.js';
import { Semaphore, type Permit } from './semaphore.js';

const never = (): AbortSignal => new AbortController().signal;

/** Lets every already-settled promise continuation run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** An acquire whose outcome can be inspected without awaiting it. */
function pending(semaphore: Semaphore, signal = never(), priority?: number) {
  const state: { permit?: Permit; error?: unknown } = {};
  const promise = semaphore.acquire(signal, priority).then(
    (permit) => {
      state.permit = permit;
      return permit;
    },
    (error: unknown) => {
      state.error = error;
    },
  );
  return { state, promise };
}

describe('Semaphore', () => {
  it('grants up to its size at once and queues the rest first come, first served', async () => {
    const semaphore = new Semaphore(2);
    const a = await semaphore.acquire(never());
    await semaphore.acquire(never());
    expect(semaphore.available).toBe(0);
    const third = pending(semaphore);
    const fourth = pending(semaphore);
    await settle();
    expect(third.state.permit).toBeUndefined();
    expect(semaphore.waiting).toBe(2);
    a.release();
    await settle();
    expect(third.state.permit).toBeDefined();
    expect(fourth.state.permit).toBeUndefined();
    expect(semaphore.available).toBe(0);
  });

  it('serves waiters by priority, lower first, and in arrival order among equals', async () => {
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire(never());
    const late = pending(semaphore, never(), 5);
    const urgent = pending(semaphore, never(), 1);
    const alsoFive = pending(semaphore, never(), 5);
    await settle();
    const order: string[] = [];
    for (const [name, waiter] of [
      ['late', late],
      ['urgent', urgent],
      ['alsoFive', alsoFive],
    ] as const) {
      void waiter.promise.then((permit) => {
        order.push(name);
        permit?.release();
      });
    }
    held.release();
    await settle();
    expect(order).toEqual(['urgent', 'late', 'alsoFive']);
  });

  it('counts a double release once', async () => {
    const semaphore = new Semaphore(1);
    const permit = await semaphore.acquire(never());
    permit.release();
    permit.release();
    expect(semaphore.available).toBe(1);
  });

  it('rounds its size down and never below one', () => {
    expect(new Semaphore(0).available).toBe(1);
    expect(new Semaphore(2.7).available).toBe(2);
  });

  it('rejects an acquire whose signal is already aborted without taking a slot', async () => {
    const semaphore = new Semaphore(1);
    const controller = new AbortController();
    controller.abort();
    await expect(semaphore.acquire(controller.signal)).rejects.toBeInstanceOf(TbuildError);
    expect(semaphore.available).toBe(1);
  });

  it('drops an aborted waiter from the queue so the next slot goes to the one behind it', async () => {
    const semaphore = new Semaphore(1);
    const holder = await semaphore.acquire(never());
    const controller = new AbortController();
    const aborted = pending(semaphore, controller.signal);
    const behind = pending(semaphore);
    controller.abort();
    await settle();
    expect((aborted.state.error as TbuildError).code).toBe('TB_CANCELED');
    expect(semaphore.waiting).toBe(1);
    holder.release();
    await settle();
    expect(behind.state.permit).toBeDefined();
    expect(semaphore.available).toBe(0);
  });

  it('lending frees the slot for a waiter while the holder keeps its permit', async () => {
    const semaphore = new Semaphore(1);
    const idle = await semaphore.acquire(never());
    const next = pending(semaphore);
    await settle();
    expect(next.state.permit).toBeUndefined();
    idle.lend();
    await settle();
    expect(next.state.permit).toBeDefined();
    expect(semaphore.available).toBe(0);
  });

  it('lending with no waiter puts the slot in the pool, and reclaiming takes it back', async () => {
    const semaphore = new Semaphore(1);
    const permit = await semaphore.acquire(never());
    permit.lend();
    expect(semaphore.available).toBe(1);
    permit.reclaim();
    expect(semaphore.available).toBe(0);
    permit.release();
    expect(semaphore.available).toBe(1);
  });

  it('reclaiming a slot someone else took goes into debt and blocks new steps until it is paid', async () => {
    const semaphore = new Semaphore(1);
    const first = await semaphore.acquire(never());
    first.lend();
    const second = await semaphore.acquire(never());
    first.reclaim();
    expect(semaphore.available).toBe(-1);
    const third = pending(semaphore);
    second.release();
    await settle();
    // The released slot paid the debt; the limit of one is back in force.
    expect(semaphore.available).toBe(0);
    expect(third.state.permit).toBeUndefined();
    first.release();
    await settle();
    expect(third.state.permit).toBeDefined();
    third.state.permit?.release();
    expect(semaphore.available).toBe(1);
  });

  it('a lent slot given back by release is not counted twice', async () => {
    const semaphore = new Semaphore(2);
    const permit = await semaphore.acquire(never());
    permit.lend();
    expect(semaphore.available).toBe(2);
    permit.release();
    expect(semaphore.available).toBe(2);
    permit.reclaim();
    permit.lend();
    expect(semaphore.available).toBe(2);
  });

  it('releasing while lent leaves the borrower holding the slot', async () => {
    const semaphore = new Semaphore(1);
    const lender = await semaphore.acquire(never());
    lender.lend();
    const borrower = await semaphore.acquire(never());
    lender.release();
    expect(semaphore.available).toBe(0);
    const waiter = pending(semaphore);
    await settle();
    expect(waiter.state.permit).toBeUndefined();
    borrower.release();
    await settle();
    expect(waiter.state.permit).toBeDefined();
  });

  it('lends and reclaims only from the matching state', async () => {
    const semaphore = new Semaphore(1);
    const permit = await semaphore.acquire(never());
    permit.reclaim(); // held: nothing to take back
    expect(semaphore.available).toBe(0);
    permit.lend();
    permit.lend(); // already lent
    expect(semaphore.available).toBe(1);
    permit.reclaim();
    permit.reclaim(); // already held
    expect(semaphore.available).toBe(0);
  });

  it('a waiter aborted while slots are lent leaves the count intact', async () => {
    const semaphore = new Semaphore(1);
    const first = await semaphore.acquire(never());
    first.lend();
    const second = await semaphore.acquire(never());
    first.reclaim();
    const controller = new AbortController();
    const aborted = pending(semaphore, controller.signal);
    controller.abort();
    await aborted.promise;
    expect((aborted.state.error as TbuildError).code).toBe('TB_CANCELED');
    first.release();
    second.release();
    expect(semaphore.available).toBe(1);
    expect(semaphore.waiting).toBe(0);
  });
});
