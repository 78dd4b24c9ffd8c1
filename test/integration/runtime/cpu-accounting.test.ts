import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningStep } from '../../../runtime/index.js';
import { freshOverlayDirs, requires } from '../../harness/index.js';
import { openSandbox, type Sandbox } from './fixture.js';

let sandbox: Sandbox;
beforeAll(() => {
  sandbox = openSandbox();
});
afterAll(() => sandbox.close());

const needs = ['root', 'overlay', 'busybox'] as const;
const MS = 1e6;

/**
 * Runs `script` and polls the step's CPU time while it runs; returns the last
 * value read, how many times onStart was called, and what the handle says after.
 */
async function cpuOf(script: string) {
  const { upperDir, workDir } = freshOverlayDirs(sandbox.base);
  let step: RunningStep | undefined;
  let starts = 0;
  let lastNs: number | undefined;
  const poll = setInterval(() => {
    lastNs = step?.cpuTimeNs() ?? lastNs;
  }, 10);
  try {
    const result = await sandbox.executor.run(
      {
        rootfs: { lowerDirs: [sandbox.lower], upperDir, workDir },
        process: { args: ['/bin/sh', '-c', script], env: [] },
        network: 'none',
      },
      {
        signal: new AbortController().signal,
        onStart: (running) => {
          starts += 1;
          step = running;
        },
      },
    );
    expect(result.exitCode).toBe(0);
  } finally {
    clearInterval(poll);
  }
  return { lastNs, starts, after: step?.cpuTimeNs() };
}

describe('SandboxExecutor CPU accounting', () => {
  it("reads a busy step's CPU time while it runs, with no limits set", async (ctx) => {
    requires(ctx, ...needs);
    // The trailing sleep lets the poller read the total after the loop.
    const busy = await cpuOf('i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; sleep 0.3');
    expect(busy.starts).toBe(1);
    expect(busy.lastNs).toBeGreaterThan(100 * MS);
    expect(busy.after).toBeUndefined();
  });

  it('sees almost no CPU time in a sleeping step', async (ctx) => {
    requires(ctx, ...needs);
    const idle = await cpuOf('sleep 0.5');
    expect(idle.starts).toBe(1);
    expect(idle.lastNs).toBeDefined();
    expect(idle.lastNs).toBeLessThan(50 * MS);
  });
});
