import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../cache/index.js';
import { requires, rootWithBusybox, runTbuild } from '../harness/index.js';

/**
 * A COPY into a destination new to its base is written straight into the
 * layer, and a rebuild after an edit hard-links the unchanged files from the
 * previous result (worker/fileop/reuse.ts). What must hold: the rebuilt image
 * is exactly the one a fresh root builds, and the links really happen.
 */
let work = '';
let rootA = '';
let rootB = '';
const SOURCE_MTIME = new Date('2021-03-04T05:06:07.891Z');
const EPOCH = String(Date.parse('2023-01-01T00:00:00Z') / 1000);

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  work = await mkdtemp(join(tmpdir(), 'tbuild-copy-reuse-'));
  [rootA, rootB] = await Promise.all([rootWithBusybox(), rootWithBusybox()]);
  const context = join(work, 'context');
  for (let d = 0; d < 5; d++) {
    mkdirSync(join(context, 'src', `d${String(d)}`), { recursive: true });
    for (let f = 0; f < 20; f++) {
      const path = join(context, 'src', `d${String(d)}`, `f${String(f)}`);
      writeFileSync(path, `file ${String(d)}/${String(f)}\n`.repeat(50));
      utimesSync(path, SOURCE_MTIME, SOURCE_MTIME);
    }
  }
  writeFileSync(
    join(context, 'Dockerfile'),
    [
      'FROM busybox',
      'WORKDIR /app',
      'COPY --chown=app:app --chmod=640 src /app/src',
      'RUN cat /app/src/d1/f1 | wc -l > /count',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  for (const dir of [work, rootA, rootB])
    if (dir !== '') await rm(dir, { recursive: true, force: true });
});

function build(root: string, out: string): { layers: string[]; files: string } {
  const layout = join(work, `${out}-oci`);
  const files = join(work, `${out}-fs`);
  const context = join(work, 'context');
  const env = { SOURCE_DATE_EPOCH: EPOCH };
  for (const output of [`type=oci,tar=false,dest=${layout}`, `type=local,dest=${files}`]) {
    const result = runTbuild(['build', '--progress=plain', '-o', output, context], { root, env });
    expect(result.code, result.stderr).toBe(0);
  }
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  const manifestDigest = index.manifests[0]?.digest ?? '';
  const manifest = JSON.parse(
    readFileSync(join(layout, 'blobs/sha256', manifestDigest.slice(7)), 'utf8'),
  ) as { layers: { digest: string }[] };
  return { layers: manifest.layers.map((layer) => layer.digest), files };
}

/** Inode of `path` in each committed snapshot that has it. */
async function inodesIn(root: string, path: string): Promise<Map<string, number>> {
  const store = await openStore({ root });
  const found = new Map<string, number>();
  for (const snapshot of await store.snapshots.list()) {
    const stats = lstatSync(join(store.snapshots.path(snapshot.id), path), {
      throwIfNoEntry: false,
    });
    if (stats !== undefined) found.set(snapshot.id, stats.ino);
  }
  return found;
}

describe('COPY after a one-file edit', () => {
  it('links unchanged files from the previous layer and gives the image a fresh root gives', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const first = build(rootA, 'first');
    const edited = join(work, 'context/src/d3/f3');
    writeFileSync(edited, 'edited\n');
    utimesSync(edited, SOURCE_MTIME, SOURCE_MTIME);
    const rebuilt = build(rootA, 'rebuilt');
    const fresh = build(rootB, 'fresh');

    // Same image as a plain copy on an empty root, and not the first build's.
    expect(rebuilt.layers).toEqual(fresh.layers);
    expect(rebuilt.layers[2]).not.toBe(first.layers[2]);
    expect(readFileSync(join(rebuilt.files, 'app/src/d3/f3'), 'utf8')).toBe('edited\n');
    expect(readFileSync(join(rebuilt.files, 'count'), 'utf8').trim()).toBe('50');
    const copied = lstatSync(join(rebuilt.files, 'app/src/d1/f1'));
    expect(copied.mode & 0o7777).toBe(0o640);

    // The two COPY results share the unchanged file's inode, not the edited one's.
    const unchanged = await inodesIn(rootA, 'app/src/d1/f1');
    const changed = await inodesIn(rootA, 'app/src/d3/f3');
    expect(unchanged.size).toBe(2);
    expect(new Set(unchanged.values()).size).toBe(1);
    expect(changed.size).toBe(2);
    expect(new Set(changed.values()).size).toBe(2);

    // The layer lists the copied-up /app with the base's metadata, as overlay's copy-up.
    const listing = execFileSync('tar', [
      '-tvzf',
      join(work, 'rebuilt-oci/blobs/sha256', (rebuilt.layers[2] ?? '').slice(7)),
    ]).toString();
    expect(listing).toMatch(/^drwxr-xr-x 0\/0 .* app\/$/m);
    expect(listing).toMatch(/^-rw-r----- 1000\/1000 .* app\/src\/d1\/f1$/m);
  });
});
