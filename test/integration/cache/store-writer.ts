/**
 * A child process for the cache integration tests: opens a store at argv[2]
 * and writes blobs, snapshots, records and image names in a loop, the same
 * keys from every process (so processes race on them). argv[3] is the number
 * of rounds, or "forever" (the crash test kills it with SIGKILL).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MEDIA_TYPES, neverAborted as signal, sha256Digest } from '../../../core/index.js';
import { openStore } from '../../../cache/index.js';

const root = process.argv[2] ?? '';
const rounds = process.argv[3] === 'forever' ? Infinity : Number(process.argv[3] ?? '10');
const store = await openStore({ root, durable: false });
const lease = await store.leases.create({ signal });

for (let round = 0; round < rounds; round++) {
  const slot = round % 8;
  // A blob big enough that a kill often lands mid-write.
  const layer = Buffer.alloc(256 * 1024 + slot, slot);
  const written = await store.content.writeBuffer(layer, {
    signal,
    beforeCommit: (digest) => lease.add({ blobs: [digest] }, signal),
  });
  const active = await store.snapshots.prepare({ signal });
  for (let file = 0; file < 20; file++) {
    await writeFile(
      join(active.upperdir, `f${String(file)}`),
      `slot ${String(slot)} file ${String(file)}`,
    );
  }
  const snapshot = await store.snapshots.commit(active.id, {
    signal,
    beforeCommit: (id) => lease.add({ snapshots: [id] }, signal),
  });
  const descriptor = {
    mediaType: MEDIA_TYPES.ociLayer,
    digest: written.digest,
    size: written.size,
  };
  await store.records.save(
    sha256Digest(`key ${String(slot)}`),
    { snapshot: snapshot.id, blobs: [descriptor] },
    signal,
  );
  await store.images.put(`example/slot:${String(slot)}`, descriptor);
  process.stdout.write(`round ${String(round)}\n`);
}
await lease.release();
