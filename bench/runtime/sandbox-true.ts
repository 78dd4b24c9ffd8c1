// Cost of one sandboxed `true` in a busybox rootfs on overlay (docs/runtime.md).
// Run as root: npx tsx bench/runtime/sandbox-true.ts [runs] [none|host|default]
// Prints the median and p90 of: helper spawn → exit (what the sandbox costs), and the
// whole Executor.run() (plus user resolution, hosts/resolv files, stub cleanup).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SandboxExecutor, type NetworkMode } from '../../runtime/index.js';

const runs = Number(process.argv[2] ?? 100);
mkdirSync('/tmp/tbb', { recursive: true });
const base = mkdtempSync('/tmp/tbb/');
const lower = join(base, 'l');
mkdirSync(join(lower, 'bin'), { recursive: true });
mkdirSync(join(lower, 'etc'));
copyFileSync('/bin/busybox', join(lower, 'bin', 'busybox'));
execFileSync('chmod', ['0755', join(lower, 'bin', 'busybox')]);
for (const applet of execFileSync('/bin/busybox', ['--list-full'], { encoding: 'utf8' }).split(
  '\n',
)) {
  if (applet === '' || existsSync(join(lower, applet))) continue;
  mkdirSync(dirname(join(lower, applet)), { recursive: true });
  symlinkSync('/bin/busybox', join(lower, applet));
}

const executor = new SandboxExecutor({ stateDir: join(base, 's') });
const sandboxMs: number[] = [];
const runMs: number[] = [];
try {
  for (let i = 0; i < runs + 5; i++) {
    const step = join(base, `step${String(i)}`);
    mkdirSync(join(step, 'u'), { recursive: true });
    mkdirSync(join(step, 'w'));
    const started = performance.now();
    const result = await executor.run(
      {
        rootfs: { lowerDirs: [lower], upperDir: join(step, 'u'), workDir: join(step, 'w') },
        process: { args: ['true'], env: [] },
        network: (process.argv[3] ?? 'none') as NetworkMode,
      },
      { signal: new AbortController().signal },
    );
    const total = performance.now() - started;
    if (result.exitCode !== 0)
      throw new Error(`true exited ${String(result.exitCode)}: the sandbox is broken`);
    if (i >= 5) {
      sandboxMs.push(result.timing.totalMs);
      runMs.push(total);
    }
    rmSync(step, { recursive: true, force: true });
  }
} finally {
  await executor.close();
  rmSync(base, { recursive: true, force: true });
}

const quantile = (values: readonly number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};
const line = (name: string, values: readonly number[]): string =>
  `${name.padEnd(34)} median ${quantile(values, 0.5).toFixed(2)} ms   p90 ${quantile(values, 0.9).toFixed(2)} ms\n`;
process.stdout.write(
  `sandboxed \`true\`, busybox rootfs on overlay, ${String(runs)} runs (5 warm-up)\n`,
);
process.stdout.write(line('helper spawn → exit', sandboxMs));
process.stdout.write(line('Executor.run() end to end', runMs));
process.stdout.write('target: median helper spawn → exit ≤ 15 ms\n');
