import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CHAIN_DEPTH } from '../../cache/index.js';
import {
  buildBusyboxRootfs,
  REPO_ROOT,
  requires,
  runTbuild,
  writeContext,
} from '../harness/index.js';

/**
 * Issue #17 through the CLI: nothing a RUN carries is dropped (1,100 ENV
 * lines, 300 exec-form arguments), execve's own limit fails with a clear error
 * naming the step, and a chain's depth does not depend on the root's path: a
 * root over 100 characters long takes 260 RUN steps, and the step past
 * overlayfs' 500 layers fails with its Dockerfile line.
 */
const needs = ['root', 'overlay', 'busybox'] as const;
let work = '';
let root = '';

beforeAll(() => {
  if (process.getuid?.() !== 0) return;
  work = mkdtempSync(join(tmpdir(), 'tbuild-limits-'));
  root = join(work, 'a-tbuild-root-whose-path-is-long-'.padEnd(100, 'x'));
  const made = spawnSync(
    'bash',
    [join(REPO_ROOT, 'scripts/make-busybox-image.sh'), '--root', root],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`make-busybox-image.sh failed:\n${made.stderr}`);
});
afterAll(async () => {
  if (work !== '') await rm(work, { recursive: true, force: true });
});

/** Builds `dockerfile` in a fresh context on the long root, with plain progress. */
async function build(name: string, dockerfile: string): Promise<ReturnType<typeof runTbuild>> {
  const context = await writeContext(join(work, name), { Dockerfile: dockerfile });
  return runTbuild(['build', '--progress=plain', context], { root });
}

/** What the step's command printed: the plain progress's `#N 0.123 text` lines. */
function stepOutput(stderr: string): string[] {
  return [...stderr.matchAll(/^#\d+ \d+\.\d+ (.*)$/gm)].map((match) => match[1] ?? '');
}

describe('what a RUN step carries', () => {
  it('sees all of 1,100 ENV lines', async (ctx) => {
    requires(ctx, ...needs);
    const envs = Array.from(
      { length: 1100 },
      (_, index) => `ENV V${String(index)}=v${String(index)}`,
    );
    const result = await build(
      'env',
      `FROM busybox\n${envs.join('\n')}\nRUN env | grep -c "^V" && echo "$V1099"\n`,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(stepOutput(result.stderr)).toEqual(['1100', 'v1099']);
  });

  it('gets all 300 arguments of an exec-form RUN', async (ctx) => {
    requires(ctx, ...needs);
    const rest = Array.from({ length: 297 }, (_, index) => `a${String(index)}`);
    const args = ['sh', '-c', 'echo "$#" "$0" "${296}"', ...rest];
    const result = await build('args', `FROM busybox\nRUN ${JSON.stringify(args)}\n`);
    expect(result.code, result.stderr).toBe(0);
    expect(stepOutput(result.stderr)).toEqual(['296 a0 a296']);
  });

  it('fails an argument list the kernel refuses with a clear error naming the step', async (ctx) => {
    requires(ctx, ...needs);
    const result = await build(
      'too-long',
      `FROM busybox\nRUN echo fine\nRUN echo ${'x'.repeat(200_000)}\n`,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('the kernel refused to start the command');
    expect(result.stderr).toContain('MAX_ARG_STRLEN');
    expect(result.stderr).toMatch(/Dockerfile:3\n/);
    expect(result.stderr).not.toContain('sandbox setup failed');
  });
});

describe('chain depth', () => {
  it('builds 260 RUN steps on a root over 100 characters long', async (ctx) => {
    requires(ctx, ...needs);
    expect(root.length).toBeGreaterThanOrEqual(100);
    const steps = Array.from(
      { length: 259 },
      (_, index) => `RUN echo ${String(index)} > /f${String(index)}`,
    );
    const result = await build(
      'deep',
      `FROM busybox\n${steps.join('\n')}\nRUN ls / | grep -c "^f" && cat /f0 /f258\n`,
    );
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    expect(stepOutput(result.stderr).slice(-3)).toEqual(['259', '0', '258']);
  }, 600_000);

  it(`runs a step at layer ${String(MAX_CHAIN_DEPTH)} and names the step past it`, async (ctx) => {
    requires(ctx, ...needs);
    // An image of MAX_CHAIN_DEPTH - 1 layers: busybox under tiny ones, as `docker save` writes it.
    const image = loadDeepImage(MAX_CHAIN_DEPTH - 1);
    const result = await build(
      'too-deep',
      `FROM ${image}\nRUN ls / | grep -c "^layer-"\nRUN echo one layer too many\n`,
    );
    expect(result.code).not.toBe(0);
    // The first RUN made layer 500 and ran over 499 lowers.
    expect(stepOutput(result.stderr)).toEqual([String(MAX_CHAIN_DEPTH - 2)]);
    expect(result.stderr).toContain(`overlayfs stacks at most ${String(MAX_CHAIN_DEPTH)}`);
    expect(result.stderr).toMatch(/Dockerfile:3\n/);
    expect(result.stderr).not.toContain('overlay options exceed one page');
  }, 600_000);
});

/** Writes a `docker save` archive of an image with `layers` layers, loads it into the root, returns its name. */
function loadDeepImage(layers: number): string {
  const dir = join(work, 'deep-image');
  mkdirSync(dir, { recursive: true });
  const layerTar = (name: string, from: string): string => {
    execFileSync('tar', [
      '--sort=name',
      '--numeric-owner',
      '-C',
      from,
      '-cf',
      join(dir, name),
      '.',
    ]);
    return name;
  };
  const names = [layerTar('base.tar', buildBusyboxRootfs(work))];
  for (let index = 1; index < layers; index++) {
    const content = join(work, 'deep-layers', String(index));
    mkdirSync(content, { recursive: true });
    writeFileSync(join(content, `layer-${String(index)}`), String(index));
    names.push(layerTar(`l${String(index)}.tar`, content));
  }
  const diffIds = names.map(
    (name) =>
      `sha256:${createHash('sha256')
        .update(readFileSync(join(dir, name)))
        .digest('hex')}`,
  );
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const name = 'deep:latest';
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify([{ Config: 'config.json', RepoTags: [name], Layers: names }]),
  );
  const archive = join(work, 'deep.tar');
  execFileSync('tar', ['-C', dir, '-cf', archive, '.']);
  const loaded = runTbuild(['load', archive], { root });
  if (loaded.code !== 0) throw new Error(`tbuild load failed:\n${loaded.stderr}`);
  return name;
}
