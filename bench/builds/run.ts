/**
 * Whole-build benchmarks of issue #4, tbuild side by side with BuildKit when a
 * dockerd is running: `npx tsx bench/builds/run.ts [--runs N] [--only tbuild|buildkit] [scenario…]`.
 * Prints the median wall time of each scenario per builder and the ratio.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatMs, median } from '../lib.js';
import { buildkit, tbuild, type Builder } from './builders.js';
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

/** Each measured case: a scenario and what happens before each timed build. */
const cases: {
  name: string;
  scenario: Scenario;
  before: (builder: Builder, dir: string, round: number) => void;
}[] = [
  {
    name: 'wide (cold)',
    scenario: wide,
    before: (builder) => {
      builder.reset();
    },
  },
  {
    name: 'chain (cold)',
    scenario: chain,
    before: (builder) => {
      builder.reset();
    },
  },
  {
    name: 'context (cold)',
    scenario: context,
    before: (builder) => {
      builder.reset();
    },
  },
  { name: 'context (no-op rebuild)', scenario: context, before: () => undefined },
  {
    name: 'context (one-file edit)',
    scenario: context,
    before: (_builder, dir, round) => {
      editOneFile(dir, round);
    },
  },
];

const builders = [tbuild(join(work, 'tbuild-root')), buildkit()].filter(
  (builder) => only === undefined || builder.name.toLowerCase() === only.toLowerCase(),
);
const results: Measurement[] = [];
for (const benchCase of cases) {
  if (selected.size > 0 && !selected.has(benchCase.scenario.name)) continue;
  const dir = freshDir(work, benchCase.scenario.name);
  benchCase.scenario.prepare(dir);
  for (const builder of builders) {
    const missing = builder.available();
    if (missing !== undefined) {
      console.log(`${benchCase.name}: ${builder.name} skipped: ${missing}`);
      continue;
    }
    builder.reset();
    builder.build(dir); // warm-up: fills caches the warm cases rely on
    const times: number[] = [];
    for (let round = 0; round < runs; round++) {
      benchCase.before(builder, dir, round);
      times.push(builder.build(dir));
    }
    const result = {
      scenario: benchCase.name,
      builder: builder.name,
      medianMs: median(times),
      runs: times,
    };
    results.push(result);
    console.log(
      `${benchCase.name.padEnd(26)} ${builder.name.padEnd(9)} median ${formatMs(result.medianMs)}  runs ${times.map(formatMs).join(', ')}`,
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
