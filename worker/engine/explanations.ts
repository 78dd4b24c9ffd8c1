import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, type Digest } from '../../core/index.js';
import { writeFileAtomic } from '../../cache/index.js';
import {
  isStepExplanation,
  type ExplanationStore,
  type StepExplanation,
} from '../../solver/index.js';
import type { BuildStore } from './store.js';

/**
 * Explanations of step keys (solver/explain/) under the root, in
 * `v1/explain/`: `steps/<place>.json`, the last one of each step of each
 * project, read when that step misses; `keys/<key>.json`, the same record by
 * the key it explains, read by a cache export (collectExplanations). A few
 * hundred bytes each (more with a step's context listing, at most 512 paths),
 * written only when a step runs, without fsync: a lost one costs only an
 * explanation.
 */
export function explanationDirs(store: Pick<BuildStore, 'layout'>): {
  steps: string;
  keys: string;
} {
  const base = join(store.layout.root, 'v1', 'explain');
  return { steps: join(base, 'steps'), keys: join(base, 'keys') };
}

export function fileExplanationStore(store: BuildStore): ExplanationStore {
  const dirs = explanationDirs(store);
  let made: Promise<unknown> | undefined;
  return {
    last: (place) => readExplanation(join(dirs.steps, `${digestHex(place)}.json`)),
    async adopt(place, key) {
      const explanation = await readExplanation(join(dirs.keys, `${digestHex(key)}.json`));
      if (explanation === undefined) return;
      await writeFileAtomic(
        store.layout.tmp,
        join(dirs.steps, `${digestHex(place)}.json`),
        JSON.stringify(explanation),
        { durable: false },
      );
    },
    async save(place, explanation) {
      made ??= Promise.all([
        mkdir(dirs.steps, { recursive: true }),
        mkdir(dirs.keys, { recursive: true }),
      ]);
      await made;
      const text = JSON.stringify(explanation);
      const options = { durable: false };
      await writeFileAtomic(
        store.layout.tmp,
        join(dirs.keys, `${digestHex(explanation.key)}.json`),
        text,
        options,
      );
      await writeFileAtomic(
        store.layout.tmp,
        join(dirs.steps, `${digestHex(place)}.json`),
        text,
        options,
      );
    },
  };
}

/**
 * The explanations of `keys` kept here, for a cache export to carry beside
 * its records (a key with none is left out). The importing side hands them to
 * ImportedExplanations.add, so its misses are explained too.
 */
export async function collectExplanations(
  store: BuildStore,
  keys: Iterable<Digest>,
): Promise<StepExplanation[]> {
  const dir = explanationDirs(store).keys;
  const found = await Promise.all(
    [...new Set(keys)].map((key) => readExplanation(join(dir, `${digestHex(key)}.json`))),
  );
  return found.filter((explanation) => explanation !== undefined);
}

async function readExplanation(path: string): Promise<StepExplanation | undefined> {
  try {
    const value: unknown = JSON.parse(await readFile(path, 'utf8'));
    return isStepExplanation(value) ? value : undefined;
  } catch {
    // Absent or damaged: nothing to compare with.
    return undefined;
  }
}

/**
 * Removes the explanations of keys that no longer have a cache record (after a
 * prune): a step's last explanation is kept while its key's result is, so
 * `tbuild prune --all` leaves no explanation behind. Returns how many went.
 */
export async function pruneExplanations(
  store: Pick<BuildStore, 'layout'>,
  remaining: ReadonlySet<Digest>,
): Promise<number> {
  const dirs = explanationDirs(store);
  const kept = new Set([...remaining].map((key) => `${digestHex(key)}.json`));
  let removed = 0;
  for (const name of await readdir(dirs.keys).catch(() => [] as string[])) {
    if (kept.has(name)) continue;
    await rm(join(dirs.keys, name), { force: true });
    removed += 1;
  }
  for (const name of await readdir(dirs.steps).catch(() => [] as string[])) {
    const explanation = await readExplanation(join(dirs.steps, name));
    if (explanation !== undefined && remaining.has(explanation.key)) continue;
    await rm(join(dirs.steps, name), { force: true });
    removed += 1;
  }
  return removed;
}
