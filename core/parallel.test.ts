import { describe, expect, it } from 'vitest';
import { TbuildError } from './errors.js';
import { mapLimit } from './parallel.js';

const signal = new AbortController().signal;
const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('mapLimit', () => {
  it('keeps order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit(
      [5, 1, 4, 2, 3, 0],
      2,
      async (n) => {
        running++;
        peak = Math.max(peak, running);
        await tick(n * 3);
        running--;
        return n * 10;
      },
      signal,
    );
    expect(results).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
  });

  it('stops on the first failure and aborts the others', async () => {
    const started: number[] = [];
    let abortedSeen = false;
    const failure = mapLimit(
      [0, 1, 2, 3, 4],
      2,
      async (n, _i, taskSignal) => {
        started.push(n);
        if (n === 1) throw new TbuildError('TB_REGISTRY_HTTP', 'boom');
        await tick(20);
        abortedSeen ||= taskSignal.aborted;
        return n;
      },
      signal,
    );
    await expect(failure).rejects.toMatchObject({ code: 'TB_REGISTRY_HTTP' });
    expect(started).toEqual([0, 1]);
    expect(abortedSeen).toBe(true);
  });
});
