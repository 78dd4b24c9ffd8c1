import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requires, rootWithBusybox, runTbuildAsync, writeContext } from '../harness/index.js';

/**
 * Issue #17: tbuild processes on one root that need the same step at the same
 * time run it once (a flock per cache key, worker/engine/key-lock.ts); the
 * others wait and reuse its result, as builds inside one process share work.
 */

/** Whether plain progress shows the step named by `marker` as CACHED. */
function stepCached(progress: string, marker: string): boolean {
  const header = progress.split('\n').find((line) => /^#\d+ /.test(line) && line.includes(marker));
  if (header === undefined) throw new Error(`no step ${marker} in:\n${progress}`);
  const number = header.split(' ')[0] ?? '';
  return progress.split('\n').includes(`${number} CACHED`);
}

describe('work shared between processes', () => {
  it('four concurrent builds sharing a first stage run its RUN once and get one result', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const root = await rootWithBusybox();
    const work = await mkdtemp(join(tmpdir(), 'tbuild-shared-work-'));
    ctx.onTestFinished(async () => {
      await rm(root, { recursive: true, force: true });
      await rm(work, { recursive: true, force: true });
    });
    // The sleep makes the four builds reach the step while its first run is still
    // going: without the lock each would run it (and write its own random value).
    const first =
      'FROM busybox AS base\n' +
      'RUN --mount=type=cache,id=shared-work-runs,target=/runs ' +
      'sh -c "echo ran >> /runs/count; sleep 2; head -c 16 /dev/urandom | od -An -tx1 > /r"\n';
    const builds = [0, 1, 2, 3].map(async (index) => {
      const context = await writeContext(join(work, `context${String(index)}`), {
        Dockerfile: `${first}FROM base\nRUN echo ${String(index)} > /which\n`,
      });
      const out = join(work, `out${String(index)}`);
      const result = await runTbuildAsync(
        ['build', '--progress=plain', '-o', `type=local,dest=${out}`, context],
        { root },
      );
      return { result, out };
    });
    const done = await Promise.all(builds);
    for (const { result } of done) expect(result.stderr + result.stdout).not.toMatch(/ERROR/);
    for (const { result } of done) expect(result.code).toBe(0);

    const values = await Promise.all(done.map(({ out }) => readFile(join(out, 'r'), 'utf8')));
    expect(values[0]).toMatch(/^( [0-9a-f]{2}){16}\n$/);
    expect(new Set(values).size).toBe(1);
    const which = await Promise.all(done.map(({ out }) => readFile(join(out, 'which'), 'utf8')));
    expect(which).toEqual(['0\n', '1\n', '2\n', '3\n']);

    // Three of the four waited for the first and report the step CACHED.
    const cached = done.filter(({ result }) => stepCached(result.stderr, 'urandom'));
    expect(cached.length).toBe(3);

    // The step's lock files are gone once the builds are.
    await expect(readdir(join(root, 'v1', 'locks', 'keys'))).resolves.toEqual([]);
  });
});
