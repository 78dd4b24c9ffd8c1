import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { BuildQueue, type QueuedBuild } from './build-queue.js';

/** A build that records when it starts and ends when told to. */
function controllable(owner: string, started: string[], name: string) {
  let finish: () => void = () => undefined;
  const build: QueuedBuild = {
    owner,
    run: () =>
      new Promise<void>((resolve) => {
        started.push(name);
        finish = resolve;
      }),
  };
  return {
    build,
    finish: () => {
      finish();
    },
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('BuildQueue', () => {
  it('runs at most maxRunning builds and starts the next when one ends', async () => {
    const started: string[] = [];
    const queue = new BuildQueue({ maxRunning: 2, maxQueued: 10 });
    const builds = ['a', 'b', 'c'].map((name) => controllable('ci', started, name));
    for (const { build } of builds) queue.enqueue(build);
    expect(started).toEqual(['a', 'b']);
    expect([queue.running, queue.queued]).toEqual([2, 1]);
    builds[0]?.finish();
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    expect([queue.running, queue.queued]).toEqual([2, 0]);
  });

  it('lets owners take turns: one owner’s many builds do not starve another’s one', async () => {
    const started: string[] = [];
    const queue = new BuildQueue({ maxRunning: 1, maxQueued: 10 });
    const byName = new Map<string, { finish: () => void }>();
    for (const [owner, name] of [
      ['busy', 'busy-1'],
      ['busy', 'busy-2'],
      ['busy', 'busy-3'],
      ['other', 'other-1'],
    ] as const) {
      const build = controllable(owner, started, name);
      byName.set(name, build);
      queue.enqueue(build.build);
    }
    // One runs at a time: finish whichever started last, until all have run.
    for (let round = 0; round < 4; round++) {
      byName.get(started.at(-1) ?? '')?.finish();
      await settle();
    }
    expect(started).toEqual(['busy-1', 'other-1', 'busy-2', 'busy-3']);
  });

  it('refuses a build past maxQueued with TB_SERVICE_QUEUE_FULL, and a removed build never starts', () => {
    const started: string[] = [];
    const queue = new BuildQueue({ maxRunning: 1, maxQueued: 1 });
    queue.enqueue(controllable('ci', started, 'running').build);
    const waiting = controllable('ci', started, 'waiting');
    queue.enqueue(waiting.build);
    let refused: unknown;
    try {
      queue.enqueue(controllable('ci', started, 'third').build);
    } catch (error) {
      refused = error;
    }
    expect(isTbuildError(refused, 'TB_SERVICE_QUEUE_FULL')).toBe(true);
    expect(queue.remove(waiting.build)).toBe(true);
    expect(queue.remove(waiting.build)).toBe(false);
    expect(queue.queued).toBe(0);
    expect(started).toEqual(['running']);
  });
});
