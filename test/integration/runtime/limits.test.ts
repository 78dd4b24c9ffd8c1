import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTbuildError } from '../../../core/index.js';
import { SandboxExecutor, type RunSpec } from '../../../runtime/index.js';
import {
  BUSYBOX_GROUP,
  buildBusyboxRootfs,
  freshOverlayDirs,
  removeTree,
  requires,
} from '../../harness/index.js';
import { Collect } from './fixture.js';

/**
 * Issue #17: nothing a step's config carries is dropped by a fixed cap in the
 * helper (it had 256 slots for arguments, lowers and groups, 1,024 for env),
 * and what the kernel itself refuses fails with a clear error. The state
 * directory is over 100 characters deep on purpose: overlay lowerdirs are
 * passed relative to it, so their count, not the path, bounds a step.
 */
const needs = ['root', 'overlay', 'busybox'] as const;
let base = '';
let busybox = '';
let executor: SandboxExecutor;

beforeAll(() => {
  if (process.getuid?.() !== 0) return;
  mkdirSync('/tmp/tbt', { recursive: true });
  const outer = mkdtempSync('/tmp/tbt/limits-');
  base = join(outer, 'a-state-directory-whose-path-is-long-'.padEnd(100, 'x'));
  mkdirSync(base);
  busybox = buildBusyboxRootfs(base);
  executor = new SandboxExecutor({ stateDir: join(base, 'state') });
});
afterAll(() => {
  if (base !== '') removeTree(join(base, '..'));
});

async function run(
  process: RunSpec['process'],
  lowerDirs: readonly string[] = [busybox],
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { upperDir, workDir } = freshOverlayDirs(base);
  const stdout = new Collect();
  const stderr = new Collect();
  const result = await executor.run(
    { rootfs: { lowerDirs, upperDir, workDir }, process },
    { signal: new AbortController().signal, stdout, stderr },
  );
  return { exitCode: result.exitCode, stdout: stdout.text, stderr: stderr.text };
}

/** Each of `files` in a new layer directory below `base`. */
function layer(name: string, files: Readonly<Record<string, string>>): string {
  const dir = join(base, 'layers', name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

describe('sandbox config without fixed caps', () => {
  it('passes 1,100 environment variables, all of them', async (ctx) => {
    requires(ctx, ...needs);
    const env = Array.from(
      { length: 1100 },
      (_, index) => `V${String(index)}=value${String(index)}`,
    );
    const result = await run({ args: ['/bin/sh', '-c', 'env | grep -c "^V"; echo "$V1099"'], env });
    expect(result.stdout).toBe('1100\nvalue1099\n');
  });

  it('passes 300 arguments, all of them', async (ctx) => {
    requires(ctx, ...needs);
    const rest = Array.from({ length: 297 }, (_, index) => `a${String(index)}`);
    const args = ['/bin/sh', '-c', 'echo "$#" "$0" "${296}"', ...rest];
    expect(args).toHaveLength(300);
    const result = await run({ args, env: [] });
    expect(result.stdout).toBe('296 a0 a296\n');
  });

  it('stacks 300 lower layers', async (ctx) => {
    requires(ctx, ...needs);
    const lowers = Array.from({ length: 299 }, (_, index) =>
      layer(`l${String(index)}`, { [`layer-${String(index)}`]: String(index) }),
    );
    const result = await run(
      { args: ['/bin/sh', '-c', 'ls / | grep -c "^layer-"; cat /layer-0 /layer-298'], env: [] },
      [...lowers.reverse(), busybox],
    );
    expect(result).toMatchObject({ exitCode: 0, stdout: '299\n0298' });
  });

  it('gives a user all 300 of its supplementary groups', async (ctx) => {
    requires(ctx, ...needs);
    const groups = Array.from(
      { length: 300 },
      (_, index) => `g${String(index)}:x:${String(2000 + index)}:alice`,
    );
    const etc = layer('groups', { 'etc/group': `${BUSYBOX_GROUP}\n${groups.join('\n')}\n` });
    const result = await run(
      {
        args: ['/bin/sh', '-c', 'id -G | wc -w; grep -c "^Groups:.* 2299" /proc/self/status'],
        env: [],
        user: 'alice',
      },
      [etc, busybox],
    );
    // 300 new groups, plus the primary and the busybox groups alice was already in (staff, audio).
    expect(result.stdout.split('\n').map((line) => line.trim())).toEqual(['303', '1', '']);
  });
});

describe('what execve refuses', () => {
  it('fails an argument over 128 KiB with TB_RUNTIME_ARGS_TOO_LONG', async (ctx) => {
    requires(ctx, ...needs);
    const script = `echo ${'x'.repeat(200_000)}`;
    await expect(run({ args: ['/bin/sh', '-c', script], env: [] })).rejects.toSatisfy(
      (error) =>
        isTbuildError(error, 'TB_RUNTIME_ARGS_TOO_LONG') &&
        error.details?.['limit'] === 'MAX_ARG_STRLEN' &&
        error.details['argument'] === 3,
    );
  });

  it('fails arguments over ARG_MAX in total with TB_RUNTIME_ARGS_TOO_LONG', async (ctx) => {
    requires(ctx, ...needs);
    // 8 MB: over a quarter of any stack limit up to 32 MB, and over the kernel's 6 MB cap.
    const env = Array.from(
      { length: 80 },
      (_, index) => `V${String(index)}=${'x'.repeat(100_000)}`,
    );
    await expect(run({ args: ['/bin/true'], env })).rejects.toSatisfy(
      (error) =>
        isTbuildError(error, 'TB_RUNTIME_ARGS_TOO_LONG') && error.details?.['limit'] === 'ARG_MAX',
    );
  });
});
