import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import {
  requires,
  runTbuild,
  useBuildRoot,
  writeContext,
  type CliResult,
} from '../harness/index.js';

/**
 * `--shm-size` and `--ulimit` through the built CLI: what a RUN sees of its
 * /dev/shm and its resource limits, that another value runs the step again,
 * and the usage errors (exit 2) of bad values.
 */
let root = '';
let work = '';
useBuildRoot('tbuild-e2e-run-flags-', (dirs) => {
  ({ root, work } = dirs);
});

let builds = 0;

/** Builds `run` (a RUN's shell script writing files under /out) and returns those files' text. */
async function runStep(
  run: string,
  flags: readonly string[],
): Promise<{ result: CliResult; read: (name: string) => Promise<string> }> {
  const index = ++builds;
  const dir = await writeContext(join(work, `ctx-${String(index)}`), {
    Dockerfile: `FROM busybox AS step\nRUN mkdir /out && ${run}\nFROM scratch\nCOPY --from=step /out/ /\n`,
  });
  const out = join(work, `out-${String(index)}`);
  const result = runTbuild(['build', '-q', ...flags, '-o', `type=local,dest=${out}`, dir], {
    root,
  });
  return { result, read: (name) => readFile(join(out, name), 'utf8') };
}

/** The hard limit this process has for a /proc/self/limits row (`Max core file size`…). */
function hostHardLimit(row: string): string | undefined {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((candidate) => candidate.startsWith(row));
  return line?.slice(row.length).trim().split(/\s+/)[1];
}

function needs(ctx: TestContext): void {
  requires(ctx, 'root', 'overlay', 'busybox');
}

const SHM = 'df -k /dev/shm | tail -n 1 > /out/df; grep " /dev/shm " /proc/mounts > /out/mounts';

describe('--shm-size', () => {
  it('sizes /dev/shm in RUN steps; without it /dev/shm is 64m, as docker', async (ctx) => {
    needs(ctx);
    const plain = await runStep(SHM, []);
    expect(plain.result.code, plain.result.stderr).toBe(0);
    // df -k: Filesystem 1K-blocks Used Available Use% Mounted on
    expect((await plain.read('df')).split(/\s+/)[1]).toBe('65536');

    const sized = await runStep(SHM, ['--shm-size=128m']);
    expect(sized.result.code, sized.result.stderr).toBe(0);
    expect((await sized.read('df')).split(/\s+/)[1]).toBe('131072');
    const mount = await sized.read('mounts');
    expect(mount).toContain('size=131072k');
    expect(mount).toMatch(/nosuid,nodev,noexec/);

    const bytes = await runStep(SHM, ['--shm-size', String(32 * 1024 * 1024)]);
    expect(bytes.result.code, bytes.result.stderr).toBe(0);
    expect((await bytes.read('df')).split(/\s+/)[1]).toBe('32768');
  }, 180_000);

  it('refuses a size it cannot read with exit 2, naming the flag', async (ctx) => {
    needs(ctx);
    const bad = await runStep('true', ['--shm-size=lots']);
    expect(bad.result.code).toBe(2);
    expect(bad.result.stderr).toContain('--shm-size "lots"');
    expect(bad.result.stderr).toContain('TB_USAGE');
  }, 60_000);
});

const LIMITS = 'ulimit -n > /out/n; ulimit -Hn > /out/hn; ulimit -c > /out/c; ulimit -u > /out/u';

describe('--ulimit', () => {
  it('sets the resource limits of RUN steps; another value runs the step again', async (ctx) => {
    needs(ctx);
    const plain = await runStep(LIMITS, []);
    expect(plain.result.code, plain.result.stderr).toBe(0);
    // 1048576, or the host's hard limit when tbuild may not raise it (no CAP_SYS_RESOURCE).
    expect(await plain.read('n')).toMatch(/^[1-9]\d+\n$/);
    expect(await plain.read('n')).not.toBe('1024\n');
    expect(await plain.read('c')).toBe('0\n');

    const limited = await runStep(LIMITS, [
      '--ulimit',
      'nofile=1024:2048',
      '--ulimit=core=-1',
      '--ulimit',
      'nproc=500',
    ]);
    expect(limited.result.code, limited.result.stderr).toBe(0);
    expect(await limited.read('n')).toBe('1024\n');
    expect(await limited.read('hn')).toBe('2048\n');
    // -1 is unlimited, as far as the host's hard limit lets it rise (it clamps without CAP_SYS_RESOURCE).
    if (hostHardLimit('Max core file size') === 'unlimited')
      expect(await limited.read('c')).toBe('unlimited\n');
    else expect(await limited.read('c')).not.toBe('0\n');
    expect(await limited.read('u')).toBe('500\n');

    // Same Dockerfile, another limit: the step is not taken from the cache.
    const again = await runStep(LIMITS, ['--ulimit', 'nofile=4096']);
    expect(again.result.code, again.result.stderr).toBe(0);
    expect(await again.read('n')).toBe('4096\n');
    expect(await again.read('hn')).toBe('4096\n');
  }, 180_000);

  it('refuses unknown names and bad values with exit 2, listing the names', async (ctx) => {
    needs(ctx);
    const name = await runStep('true', ['--ulimit', 'files=10']);
    expect(name.result.code).toBe(2);
    expect(name.result.stderr).toContain('--ulimit "files=10"');
    expect(name.result.stderr).toContain('nofile');
    expect(name.result.stderr).toContain('sigpending');
    for (const value of ['nofile', 'nofile=ten', 'nofile=2048:1024']) {
      const bad = await runStep('true', ['--ulimit', value]);
      expect(bad.result.code, value).toBe(2);
      expect(bad.result.stderr).toContain(`--ulimit "${value}"`);
    }
  }, 60_000);
});
