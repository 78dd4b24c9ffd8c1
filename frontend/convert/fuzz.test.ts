import { describe, expect, it } from 'vitest';
import { runFuzz } from './fuzz-harness.js';

/**
 * 100,000 seeded mutants of the corpus, parsed and lowered in-process: only a
 * TbuildError may come out, and a Dockerfile error names its line (issue #17).
 * A larger run: bench/fuzz/dockerfiles.ts.
 */
describe('frontend fuzz (parse + lower)', () => {
  it('never throws anything but a located TbuildError on 100,000 mutated Dockerfiles', async () => {
    const stats = await runFuzz({ count: 100_000, seed: 0x17 });
    expect(stats.crashes.slice(0, 3)).toEqual([]);
    // The mutants must still reach the lowering often enough for the run to mean something.
    expect(stats.lowered).toBeGreaterThan(stats.files / 5);
  }, 600_000);
});
