import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningStep, RunResult } from '../../../runtime/index.js';
import { freshOverlayDirs, requires } from '../../harness/index.js';
import { openSandbox, type Sandbox } from './fixture.js';

/**
 * What the solver's slot lender relies on (worker/engine/ops/slot-lender.ts):
 * a running step's threads and their scheduler states, and the freezer.
 */
let sandbox: Sandbox;
beforeAll(() => {
  sandbox = openSandbox();
});
afterAll(() => sandbox.close());

const needs = ['root', 'overlay', 'busybox', 'cgroup2'] as const;

/** Starts `script`; hands the running step to `whileRunning` and returns the run's result. */
async function withStep(
  script: string,
  whileRunning: (step: RunningStep, done: () => boolean) => Promise<void>,
): Promise<RunResult> {
  const { upperDir, workDir } = freshOverlayDirs(sandbox.base);
  let started: (step: RunningStep) => void = () => undefined;
  const step = new Promise<RunningStep>((resolve) => {
    started = resolve;
  });
  let settled = false;
  const run = sandbox.executor
    .run(
      {
        rootfs: { lowerDirs: [sandbox.lower], upperDir, workDir },
        process: { args: ['/bin/sh', '-c', script], env: [] },
        network: 'none',
      },
      { signal: new AbortController().signal, onStart: started },
    )
    .finally(() => {
      settled = true;
    });
  await whileRunning(await step, () => settled);
  return run;
}

/** Polls `step.threads()` every 5 ms until the run settles. */
async function threadSamples(step: RunningStep, done: () => boolean) {
  const samples: { total: number; runnable: number }[] = [];
  while (!done()) {
    const threads = step.threads();
    if (threads !== undefined && threads.total > 0) samples.push(threads);
    await sleep(5);
  }
  return samples;
}

describe('SandboxExecutor threads and freezer', () => {
  it("sees a spinning step's thread as runnable and a sleeping step's as not", async (ctx) => {
    requires(ctx, ...needs);
    let spinning: { total: number; runnable: number }[] = [];
    // `[` and arithmetic are shell builtins: the loop never sleeps or forks.
    const spin = await withStep(
      'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done',
      async (step, done) => {
        spinning = await threadSamples(step, done);
      },
    );
    expect(spin.exitCode).toBe(0);
    expect(spinning.some((sample) => sample.runnable > 0)).toBe(true);

    let sleeping: { total: number; runnable: number }[] = [];
    const idle = await withStep('sleep 0.5', async (step, done) => {
      sleeping = await threadSamples(step, done);
    });
    expect(idle.exitCode).toBe(0);
    expect(sleeping.some((sample) => sample.runnable === 0)).toBe(true);
  });

  it('holds a frozen step where it is until it is thawed', async (ctx) => {
    requires(ctx, ...needs);
    let frozenCpu: number[] = [];
    let endedWhileFrozen = true;
    const result = await withStep('echo started', async (step, done) => {
      // Frozen before its first process exists: that process starts frozen.
      expect(step.freeze(true)).toBe(true);
      while (!done() && (step.threads()?.total ?? 0) === 0) await sleep(5);
      // A step that is not frozen says "started" and ends within this wait.
      frozenCpu = [step.cpuTimeNs() ?? -1];
      await sleep(300);
      frozenCpu.push(step.cpuTimeNs() ?? -1);
      endedWhileFrozen = done();
      expect(step.freeze(false)).toBe(true);
    });
    expect(endedWhileFrozen).toBe(false);
    expect(frozenCpu[1]).toBe(frozenCpu[0]);
    expect(result.exitCode).toBe(0);
  });
});
