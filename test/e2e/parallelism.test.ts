import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requires, runTbuild, useBuildRoot } from '../harness/index.js';

/**
 * What `--max-parallelism N` promises (docs/config.md), under a limit of one:
 * a RUN's processes use the CPU only while their step holds the slot; a RUN
 * whose processes sleep lends it, and when they get busy again they are
 * frozen until the slot is free. Two stages of one build talk through a shared
 * cache mount. Nothing here depends on timing or on how loaded the machine
 * is: the busy work is counted in each shell's own CPU time, and a busy
 * thread is runnable, which the lender sees, whether it gets a CPU or not.
 */
let root = '';
let work = '';

useBuildRoot('tbuild-parallelism-', (dirs) => {
  ({ root, work } = dirs);
});

const needs = ['root', 'overlay', 'busybox', 'cgroup2'] as const;

/** Two independent stages `a` and `b` running `script(self, other)`, and a final stage needing both. */
async function twoStages(
  name: string,
  script: (self: string, other: string) => string,
): Promise<string> {
  const context = join(work, name);
  const mount = `--mount=type=cache,id=${name},sharing=shared,target=/c`;
  const stage = (self: string, other: string): string =>
    `FROM busybox AS ${self}\nRUN ${mount} ${script(self, other)} && echo done > /${self}\n`;
  await mkdir(context);
  await writeFile(
    join(context, 'Dockerfile'),
    [
      stage('a', 'b'),
      stage('b', 'a'),
      'FROM busybox',
      'COPY --from=a /a /',
      'COPY --from=b /b /',
      '',
    ].join('\n'),
  );
  return context;
}

async function buildBoth(context: string, out: string): Promise<void> {
  const result = runTbuild(
    [
      'build',
      '--progress=plain',
      '--max-parallelism',
      '1',
      '-o',
      `type=local,dest=${out}`,
      context,
    ],
    { root },
  );
  expect(result.code, result.stderr).toBe(0);
  expect(await readFile(join(out, 'a'), 'utf8')).toBe('done\n');
  expect(await readFile(join(out, 'b'), 'utf8')).toBe('done\n');
}

/**
 * Spins until the shell itself has used `ticks` hundredths of a second of CPU
 * (utime + stime, fields 14 and 15 of /proc/self/stat). `read` is a builtin:
 * the loop never forks or sleeps, so its thread is always runnable.
 */
const burnCpu = (ticks: number): string =>
  'while read -r _ _ _ _ _ _ _ _ _ _ _ _ _ utime stime _ < /proc/self/stat && ' +
  `[ $((utime + stime)) -lt ${String(ticks)} ]; do :; done`;

/**
 * A process that spins until the script exits: the step always has a
 * runnable thread, so it never looks idle, even while the script waits on a
 * file it creates. The step may still lend its slot while its sandbox is set
 * up (that sleeps), so a busy script burns half a second before it tells
 * anyone it runs: by then it holds the slot again, or is frozen until it does.
 */
const NEVER_IDLE = '(while :; do :; done) & spin=$!; trap "kill $spin" EXIT';
const SETTLE_TICKS = 50;

/** Sleeps in steps of 0.1 s until `path` exists, failing after 20 s. */
const awaitFile = (path: string, what: string): string =>
  `i=0; while [ ! -e ${path} ]; do i=$((i+1)); ` +
  `if [ $i -gt 200 ]; then echo "${what} never came" >&2; exit 1; fi; sleep 0.1; done`;

describe('--max-parallelism with idle and busy steps', () => {
  it('runs two waiting steps at once under a limit of one: the idle one lends its slot', async (ctx) => {
    requires(ctx, ...needs);
    // Each leaves a marker, then waits for the other's: only steps running at
    // the same time can both succeed.
    const context = await twoStages(
      'rendezvous',
      (self, other) => `: > /c/${self} && ${awaitFile(`/c/${other}`, other)}`,
    );
    await buildBoth(context, join(work, 'rendezvous-out'));
  });

  it('freezes a step that gets busy without its slot until the step holding it ends', async (ctx) => {
    requires(ctx, ...needs);
    // Whichever step runs first (mkdir is atomic) sleeps, lending its slot,
    // until the other holds the slot and is busy; then it does 1 s of CPU
    // work. The other does 3 s of CPU work meanwhile, never idle; had the
    // first run on without the slot it would have finished by then, on any
    // load, since both get the CPU alike.
    const context = await twoStages(
      'frozen',
      (self) =>
        `if mkdir /c/first 2>/dev/null; then ` +
        `${awaitFile('/c/second.busy', 'the second step')}; ${burnCpu(100)}; : > /c/first.done; ` +
        `else ${NEVER_IDLE}; ${burnCpu(SETTLE_TICKS)}; : > /c/second.busy; ${burnCpu(300)}; ` +
        `if [ -e /c/first.done ]; then echo "${self}: the step without the slot ran on" >&2; exit 1; fi; fi`,
    );
    await buildBoth(context, join(work, 'frozen-out'));
  });

  it('never runs two busy steps at once under a limit of one', async (ctx) => {
    requires(ctx, ...needs);
    // Each is busy throughout, so once it holds the slot it keeps it to the
    // end. A step that finds the other started but not ended, when it starts
    // or ends, fails.
    const overlapCheck = (other: string): string =>
      `if [ -e /c/${other}.start ] && [ ! -e /c/${other}.end ]; then ` +
      `echo "overlaps with ${other}" >&2; exit 1; fi`;
    const context = await twoStages(
      'busy',
      (self, other) =>
        `${NEVER_IDLE}; ${burnCpu(SETTLE_TICKS)}; ${overlapCheck(other)}; : > /c/${self}.start; ` +
        `${burnCpu(SETTLE_TICKS + 100)}; ${overlapCheck(other)}; : > /c/${self}.end`,
    );
    await buildBoth(context, join(work, 'busy-out'));
  });
});
