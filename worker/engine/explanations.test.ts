import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  digestHex,
  neverAborted,
  noopLogger,
  sha256Digest,
  type Digest,
} from '../../core/index.js';
import { openStore } from '../../cache/index.js';
import { EXPLANATION_VERSION, type JobContext, type StepExplanation } from '../../solver/index.js';
import {
  collectExplanations,
  explanationDirs,
  fileExplanationStore,
  pruneExplanations,
} from './explanations.js';
import type { BuildStore } from './store.js';

let root = '';
let store: BuildStore;
const job: JobContext = { signal: neverAborted, progress: () => undefined, logger: noopLogger };

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-explanations-'));
  store = await openStore({ root, durable: false });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function explanation(key: Digest): StepExplanation {
  return {
    version: EXPLANATION_VERSION,
    step: 'Dockerfile#stage 0 step 2',
    key,
    instruction: 'RUN make',
    vars: { 'ARG VERSION': sha256Digest('1') },
    op: sha256Digest('op'),
    inputs: [{ key: sha256Digest('parent') }],
  };
}

describe('fileExplanationStore', () => {
  it("keeps a step's last explanation, and each by its key for a cache export", async () => {
    const explanations = fileExplanationStore(store);
    const place = sha256Digest('place');
    const [k1, k2] = [sha256Digest('k1'), sha256Digest('k2')];
    expect(await explanations.last(place, job)).toBeUndefined();
    await explanations.save(place, explanation(k1), job);
    await explanations.save(place, explanation(k2), job);
    expect((await explanations.last(place, job))?.key).toBe(k2);
    const collected = await collectExplanations(store, [k1, k2, sha256Digest('unknown'), k1]);
    expect(collected.map((found) => found.key).sort()).toEqual([k1, k2].sort());

    // A hit on the first variant makes it the step's last again.
    await explanations.adopt(place, k1, job);
    expect((await explanations.last(place, job))?.key).toBe(k1);
    // A key with no explanation kept changes nothing.
    await explanations.adopt(place, sha256Digest('unknown'), job);
    expect((await explanations.last(place, job))?.key).toBe(k1);
  });

  it('treats a damaged or foreign file as none, and writes nothing but its two files', async () => {
    const explanations = fileExplanationStore(store);
    const place = sha256Digest('place');
    await explanations.save(place, explanation(sha256Digest('k1')), job);
    const dirs = explanationDirs(store);
    expect(await readdir(dirs.steps)).toEqual([`${digestHex(place)}.json`]);
    await writeFile(join(dirs.steps, `${digestHex(place)}.json`), '{"version":"other"');
    expect(await explanations.last(place, job)).toBeUndefined();
  });
});

describe('pruneExplanations', () => {
  it('removes the explanations of keys whose records are gone, keeps the others', async () => {
    const explanations = fileExplanationStore(store);
    const [k1, k2] = [sha256Digest('k1'), sha256Digest('k2')];
    await explanations.save(sha256Digest('place-1'), explanation(k1), job);
    await explanations.save(sha256Digest('place-2'), explanation(k2), job);
    expect(await pruneExplanations(store, new Set([k2]))).toBe(2);
    expect(await explanations.last(sha256Digest('place-1'), job)).toBeUndefined();
    expect((await explanations.last(sha256Digest('place-2'), job))?.key).toBe(k2);
    expect((await collectExplanations(store, [k1, k2])).map((found) => found.key)).toEqual([k2]);
    // After prune --all nothing is left.
    expect(await pruneExplanations(store, new Set())).toBe(2);
    const dirs = explanationDirs(store);
    expect([...(await readdir(dirs.keys)), ...(await readdir(dirs.steps))]).toEqual([]);
  });
});
