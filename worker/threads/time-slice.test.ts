import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { TimeSlicer } from './time-slice.js';

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin: the point is to hold the event loop
  }
}

describe('TimeSlicer', () => {
  it('asks for a pause only once the slice is used up', () => {
    const slicer = new TimeSlicer(undefined, 20);
    expect(slicer.due()).toBe(false);
    busyWait(25);
    expect(slicer.due()).toBe(true);
  });

  it('lets timers and immediates run during a pause, then starts a new slice', async () => {
    const slicer = new TimeSlicer(undefined, 5);
    let ran = false;
    setImmediate(() => {
      ran = true;
    });
    busyWait(10);
    await slicer.pause();
    expect(ran).toBe(true);
    expect(slicer.due()).toBe(false);
  });

  it('parks concurrent callers on one wait', async () => {
    const slicer = new TimeSlicer(undefined, 1);
    busyWait(2);
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3].map(async (n) => {
        await slicer.pause();
        order.push(n);
      }),
    );
    expect(order).toEqual([1, 2, 3]);
  });

  it('throws a cancellation when the signal aborts', async () => {
    const controller = new AbortController();
    const slicer = new TimeSlicer(controller.signal, 1);
    controller.abort();
    const error: unknown = await slicer.pause().catch((caught: unknown) => caught);
    expect(isTbuildError(error, 'TB_CANCELED')).toBe(true);
  });
});
