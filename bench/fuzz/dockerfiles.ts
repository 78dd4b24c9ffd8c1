/**
 * Fuzzes the Dockerfile frontend (parse + lower, no build) with seeded mutations
 * of the corpus; see frontend/convert/fuzz-harness.ts. CI runs 100,000 files
 * (frontend/convert/fuzz.test.ts); this runs as many as asked:
 *
 *   npx tsx bench/fuzz/dockerfiles.ts --count 1000000 [--seed N]
 *
 * Prints a progress line every 100,000 files and each crash (the error and the
 * mutant, JSON-quoted); exits 1 when any crashed.
 */
import { parseArgs } from 'node:util';
import { runFuzz } from '../../frontend/convert/fuzz-harness.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
  },
});
const count = Number(values.count);
const seed = Number(values.seed);
const started = Date.now();
const stats = await runFuzz({
  count,
  seed,
  onProgress: (progress) => {
    if (progress.files % 100_000 === 0) {
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      console.log(
        `${String(progress.files)} files, ${String(progress.parsed)} parsed, ${String(progress.lowered)} lowered, ${String(progress.crashes.length)} crashes, ${seconds} s`,
      );
    }
  },
});
for (const found of stats.crashes) console.log(`\n=== crash ===\n${found}`);
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(
  `seed ${String(seed)}: ${String(stats.files)} files, ${String(stats.parsed)} parsed, ${String(stats.lowered)} lowered, ${String(stats.crashes.length)} crashes in ${seconds} s`,
);
process.exitCode = stats.crashes.length === 0 ? 0 : 1;
