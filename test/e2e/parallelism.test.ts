import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requires, runTbuild, useBuildRoot } from '../harness/index.js';

/**
 * `--max-parallelism` bounds the steps using the CPU: an idle RUN lends its slot
 * (worker/engine/ops/slot-lender.ts), a busy one keeps it. Two stages of one
 * build talk through a shared cache mount; no assertion is on time.
 */
let root = '';
let work = '';

useBuildRoot('tbuild-parallelism-', (dirs) => {
  ({ root, work } = dirs);
});

/** Two independent stages `a` and `b` running `script(self, other)`, and a final stage needing both. */
async function twoStages(
  name: string,
  cacheId: string,
  script: (self: string, other: string) => string,
): Promise<string> {
  const context = join(work, name);
  const mount = `--mount=type=cache,id=${cacheId},sharing=shared,target=/c`;
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

function build(context: string, out: string) {
  return runTbuild(
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
}

describe('--max-parallelism with idle and busy steps', () => {
  it('runs two waiting steps at once under a limit of one: the idle one lends its slot', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    // Each leaves a marker, then waits (up to 20 s) for the other's: only steps
    // running at the same time can both succeed.
    const context = await twoStages(
      'rendezvous',
      'rendezvous',
      (self, other) =>
        `touch /c/${self} && i=0 && while [ ! -e /c/${other} ]; do ` +
        `i=$((i+1)); if [ $i -gt 200 ]; then echo "${other} never came" >&2; exit 1; fi; ` +
        `sleep 0.1; done`,
    );
    const out = join(work, 'rendezvous-out');
    const result = build(context, out);
    expect(result.code, result.stderr).toBe(0);
    expect(await readFile(join(out, 'a'), 'utf8')).toBe('done\n');
    expect(await readFile(join(out, 'b'), 'utf8')).toBe('done\n');
  });

  it('never overlaps two CPU-busy steps under a limit of one', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    // Busy for 1.5 s of wall time (reading /proc/uptime is a shell builtin: no
    // sleeping, no forks). A step that finds the other started but not ended,
    // when it starts or when it ends, fails.
    const overlapCheck = (other: string): string =>
      `if [ -e /c/${other}.start ] && [ ! -e /c/${other}.end ]; then ` +
      `echo "overlaps with ${other}" >&2; exit 1; fi`;
    const context = await twoStages(
      'busy',
      'busy',
      (self, other) =>
        `${overlapCheck(other)}; touch /c/${self}.start && ` +
        'read up rest < /proc/uptime && end=$(( ${up%.*}${up#*.} + 150 )) && ' +
        'while read up rest < /proc/uptime && [ "${up%.*}${up#*.}" -lt "$end" ]; do :; done && ' +
        `${overlapCheck(other)}; touch /c/${self}.end`,
    );
    const out = join(work, 'busy-out');
    const result = build(context, out);
    expect(result.code, result.stderr).toBe(0);
    expect(await readFile(join(out, 'a'), 'utf8')).toBe('done\n');
    expect(await readFile(join(out, 'b'), 'utf8')).toBe('done\n');
  });
});
