import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Median of a list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Runs a command to completion and returns its wall time in milliseconds; throws on failure. */
export function timeCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): number {
  return measureCommand(command, args, options).ms;
}

export interface CommandMeasure {
  readonly ms: number;
  /** The command's peak resident set size (GNU time's %M), when /usr/bin/time is installed. */
  readonly peakRssKb: number | undefined;
}

const GNU_TIME = '/usr/bin/time';

/** timeCommand, plus the command's peak RSS through GNU time (Debian's `time` package). */
export function measureCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CommandMeasure {
  const rssFile = existsSync(GNU_TIME)
    ? join(mkdtempSync(join(tmpdir(), 'bench-rss-')), 'rss')
    : undefined;
  const [file, argv] =
    rssFile === undefined
      ? [command, args]
      : [GNU_TIME, ['-f', '%M', '-o', rssFile, command, ...args]];
  const started = process.hrtime.bigint();
  const result = spawnSync(file, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    ...options,
  });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${String(result.status)}):\n${result.stderr.slice(-4000)}`,
    );
  }
  let peakRssKb: number | undefined;
  if (rssFile !== undefined) {
    peakRssKb = Number.parseInt(readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '', 10);
    rmSync(dirname(rssFile), { recursive: true, force: true });
  }
  return { ms: elapsed, peakRssKb: Number.isNaN(peakRssKb) ? undefined : peakRssKb };
}

export function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}
