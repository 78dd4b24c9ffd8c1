/**
 * Whole-build benchmarks of issue #4, tbuild side by side with BuildKit when a
 * dockerd is running: `npx tsx bench/builds/run.ts [--runs N] [--only tbuild|buildkit] [scenario…]`.
 * Prints the median wall time of each scenario per builder and the ratio.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatMs, median } from '../lib.js';
import { buildkit, tbuild } from './builders.js';
import { apt, cproject, editCFile, editOneSourceFile, realistic } from './realistic.js';
import { chain, context, editOneFile, freshDir, wide, type Scenario } from './scenarios.js';

interface Measurement {
  readonly scenario: string;
  readonly builder: string;
  readonly medianMs: number;
  readonly runs: number[];
}

const args = process.argv.slice(2);
const valueOf = (flag: string): string | undefined => {
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
};
const runs = Number(valueOf('--runs') ?? 5);
const only = valueOf('--only');
const flagValues = new Set([valueOf('--runs'), only]);
const selected = new Set(args.filter((arg) => !arg.startsWith('--') && !flagValues.has(arg)));
const work = mkdtempSync(join(tmpdir(), 'tbuild-bench-'));

/**
 * Each measured case: a scenario, whether each timed build starts cold (the
 * builder forgets everything first), and what changes in the context before
 * each round (the same change for every builder).
 */
const cases: {
  name: string;
  scenario: Scenario;
  cold: boolean;
  change?: (dir: string, round: number) => void;
  noCache?: boolean;
}[] = [
  { name: 'wide (cold)', scenario: wide, cold: true },
  { name: 'chain (cold)', scenario: chain, cold: true },
  { name: 'context (cold)', scenario: context, cold: true },
  { name: 'context (no-op rebuild)', scenario: context, cold: false },
  { name: 'context (one-file edit)', scenario: context, cold: false, change: editOneFile },
  { name: 'realistic (cold)', scenario: realistic, cold: true },
  { name: 'realistic (no-op rebuild)', scenario: realistic, cold: false },
  {
    name: 'realistic (one-file edit)',
    scenario: realistic,
    cold: false,
    change: editOneSourceFile,
  },
  { name: 'apt (cold)', scenario: apt, cold: true },
  { name: 'cproject (one-file edit)', scenario: cproject, cold: false, change: editCFile },
  { name: 'cproject (no-cache, warm mounts)', scenario: cproject, cold: false, noCache: true },
];

const builders = [tbuild(join(work, 'tbuild-root')), buildkit()].filter((builder) => {
  if (only !== undefined && builder.name.toLowerCase() !== only.toLowerCase()) return false;
  const missing = builder.available();
  if (missing !== undefined) console.log(`${builder.name} skipped: ${missing}`);
  return missing === undefined;
});

/**
 * Deletions and dirty pages of one build (or reset) are flushed before the next
 * timed build starts: this disk is mounted with online discard, and a build that
 * ran while the previous run's 20k files were being freed took 3-4 times longer.
 */
function settleDisk(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

const results: Measurement[] = [];
for (const benchCase of cases) {
  if (selected.size > 0 && !selected.has(benchCase.scenario.name)) continue;
  const dir = freshDir(work, benchCase.scenario.name);
  benchCase.scenario.prepare(dir);
  const times = new Map(builders.map((builder) => [builder, [] as number[]]));
  const peaks = new Map(builders.map((builder) => [builder, [] as number[]]));
  const bases = { debian: benchCase.scenario.needsDebian === true };
  for (const builder of builders) {
    builder.reset(bases);
    builder.build(dir); // warm-up: fills caches the warm cases rely on
  }
  // Rounds alternate the builders (and which goes first), so a slow spell of the
  // disk or the machine lands on both rather than on all the runs of one.
  for (let round = 0; round < runs; round++) {
    benchCase.change?.(dir, round);
    const order = round % 2 === 0 ? builders : [...builders].reverse();
    for (const builder of order) {
      if (benchCase.cold) builder.reset(bases);
      settleDisk();
      const measured = builder.build(dir, { noCache: benchCase.noCache === true });
      times.get(builder)?.push(measured.ms);
      if (measured.peakRssKb !== undefined) peaks.get(builder)?.push(measured.peakRssKb);
    }
  }
  for (const builder of builders) {
    const runsOf = times.get(builder) ?? [];
    const result = {
      scenario: benchCase.name,
      builder: builder.name,
      medianMs: median(runsOf),
      runs: runsOf,
    };
    results.push(result);
    const peakKb = Math.max(0, ...(peaks.get(builder) ?? []));
    const peak = peakKb > 0 ? `  peak RSS ${String(Math.round(peakKb / 1024))} MB` : '';
    console.log(
      `${benchCase.name.padEnd(26)} ${builder.name.padEnd(9)} median ${formatMs(result.medianMs)}  runs ${runsOf.map(formatMs).join(', ')}${peak}`,
    );
  }
}

console.log('\nratio tbuild/BuildKit (median):');
for (const name of new Set(results.map((result) => result.scenario))) {
  const ours = results.find((result) => result.scenario === name && result.builder === 'tbuild');
  const theirs = results.find(
    (result) => result.scenario === name && result.builder === 'BuildKit',
  );
  if (ours !== undefined && theirs !== undefined)
    console.log(`  ${name.padEnd(26)} ${(ours.medianMs / theirs.medianMs).toFixed(2)}`);
}
