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
    await permit.reclaim(never());
    expect(semaphore.available).toBe(0);
    permit.release();
    expect(semaphore.available).toBe(1);
  });

  it('reclaiming a slot someone else took waits for a free one, ahead of steps not started', async () => {
    const semaphore = new Semaphore(1);
    const first = await semaphore.acquire(never());
    first.lend();
    const second = await semaphore.acquire(never());
    const starter = pending(semaphore, never(), -1000);
    let reclaimed = false;
    const reclaim = first.reclaim(never()).then(() => {
      reclaimed = true;
    });
    await settle();
    expect(reclaimed).toBe(false);
    expect(semaphore.available).toBe(0);
    expect(semaphore.waiting).toBe(2);
    second.release();
    await reclaim;
    expect(starter.state.permit).toBeUndefined();
    first.release();
    await settle();
    expect(starter.state.permit).toBeDefined();
  });

  it('shares one wait between concurrent reclaims of one permit', async () => {
    const semaphore = new Semaphore(1);
    const first = await semaphore.acquire(never());
    first.lend();
    const second = await semaphore.acquire(never());
    const both = Promise.all([first.reclaim(never()), first.reclaim(never())]);
    await settle();
    expect(semaphore.waiting).toBe(1);
    second.release();
    await both;
    expect(semaphore.available).toBe(0);
    first.release();
    expect(semaphore.available).toBe(1);
  });

  it('an aborted reclaim leaves the slot lent, and a later one can still take it back', async () => {
    const semaphore = new Semaphore(1);
    const first = await semaphore.acquire(never());
    first.lend();
    const second = await semaphore.acquire(never());
    const controller = new AbortController();
    const aborted = first.reclaim(controller.signal);
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'TB_CANCELED' });
    expect(semaphore.waiting).toBe(0);
    second.release();
    expect(semaphore.available).toBe(1);
    await first.reclaim(never());
    expect(semaphore.available).toBe(0);
  });

  it('a release while a reclaim waits ends the wait and takes no slot', async () => {
    const semaphore = new Semaphore(1);
    const first = await semaphore.acquire(never());
    first.lend();
    const second = await semaphore.acquire(never());
    const reclaim = first.reclaim(never());
    first.release();
    await expect(reclaim).resolves.toBeUndefined();
    expect(semaphore.waiting).toBe(0);
    second.release();
    expect(semaphore.available).toBe(1);
  });

  it('a lent slot given back by release is not counted twice', async () => {
    const semaphore = new Semaphore(2);
    const permit = await semaphore.acquire(never());
    permit.lend();
    expect(semaphore.available).toBe(2);
    permit.release();
    expect(semaphore.available).toBe(2);
    await permit.reclaim(never());
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
    await permit.reclaim(never()); // held: nothing to take back
    expect(semaphore.available).toBe(0);
    permit.lend();
    permit.lend(); // already lent
    expect(semaphore.available).toBe(1);
    await permit.reclaim(never());
    await permit.reclaim(never()); // already held
    expect(semaphore.available).toBe(0);
  });

  it('never has more permits held than its size, whatever is lent, reclaimed, released or aborted', async () => {
    // A seeded walk through random operations; after each, every permit the
    // semaphore gave out is either held by its step or back in the pool.
    let seed = 7;
    // mulberry32: every bit varies, unlike a plain LCG's low bits.
    const random = (below: number): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % below;
    };
    for (const size of [1, 2, 3]) {
      const semaphore = new Semaphore(size);
      const held = new Set<Permit>();
      const lent = new Set<Permit>();
      const aborts: AbortController[] = [];
      const pick = <T>(set: Set<T>): T | undefined => [...set][random(Math.max(1, set.size))];
      for (let step = 0; step < 400; step++) {
        const op = random(6);
        if (op === 0) {
          const controller = new AbortController();
          aborts.push(controller);
          semaphore.acquire(controller.signal, random(3)).then(
            (permit) => held.add(permit),
            () => undefined,
          );
        } else if (op === 1) {
          const permit = pick(held);
          permit?.release();
          if (permit !== undefined) held.delete(permit);
        } else if (op === 2) {
          const permit = pick(held);
          permit?.lend();
          if (permit !== undefined) {
            held.delete(permit);
            lent.add(permit);
          }
        } else if (op === 3) {
          const permit = pick(lent);
          if (permit !== undefined) {
            const controller = new AbortController();
            aborts.push(controller);
            permit.reclaim(controller.signal).then(
              () => {
                if (lent.delete(permit)) held.add(permit);
              },
              () => undefined,
            );
          }
        } else if (op === 4) {
          aborts.splice(random(Math.max(1, aborts.length)), 1)[0]?.abort();
        } else {
          const permit = pick(lent);
          permit?.release();
          if (permit !== undefined) lent.delete(permit);
        }
        await settle();
        expect(held.size).toBeLessThanOrEqual(size);
        expect(held.size + semaphore.available).toBe(size);
        if (semaphore.available > 0) expect(semaphore.waiting).toBe(0);
      }
    }
  });
});
