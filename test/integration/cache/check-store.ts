import { readdir } from 'node:fs/promises';
import { neverAborted as signal, sha256Digest, type Digest } from '../../../core/index.js';
import type { TbuildStore } from '../../../cache/index.js';

/** What every well-formed store satisfies; returns the problems found (none expected). */
export async function storeProblems(store: TbuildStore): Promise<string[]> {
  const problems: string[] = [];
  const digests: Digest[] = [];
  await store.content.walk((info) => void digests.push(info.digest), { signal });
  for (const digest of digests) {
    if (!(await store.content.verify(digest, { signal }))) problems.push(`blob ${digest} corrupt`);
  }
  for (const snapshot of await store.snapshots.list()) {
    await store.snapshots.verify(snapshot.id, { signal }).catch((error: unknown) => {
      problems.push(`snapshot ${snapshot.id}: ${String(error)}`);
    });
  }
  for (let slot = 0; slot < 8; slot++) {
    const record = await store.records.load(sha256Digest(`key ${String(slot)}`), { signal });
    if (record === undefined) continue;
    if (
      record.snapshot === undefined ||
      (await store.snapshots.get(record.snapshot)) === undefined
    ) {
      problems.push(`record ${String(slot)} points at a missing snapshot`);
    }
    for (const blob of record.blobs ?? []) {
      if ((await store.content.info(blob.digest)) === undefined)
        problems.push(`record ${String(slot)} lost a blob`);
    }
  }
  for (const image of await store.images.list()) {
    if ((await store.content.info(image.target.digest)) === undefined)
      problems.push(`image ${image.name} lost its blob`);
  }
  const stray = (await readdir(store.layout.records)).filter((name) => !name.endsWith('.json'));
  if (stray.length > 0) problems.push(`stray files in the index: ${stray.join(', ')}`);
  return problems;
}
