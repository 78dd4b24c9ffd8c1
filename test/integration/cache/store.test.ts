import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { neverAborted as signal, sha256Digest } from '../../../core/index.js';
import { blobPath, openStore } from '../../../cache/index.js';
import { requires } from '../../harness/index.js';
import { storeProblems } from './check-store.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const writer = fileURLToPath(new URL('./store-writer.ts', import.meta.url));

function startWriter(root: string, rounds: string) {
  return spawn(process.execPath, ['--import', 'tsx', writer, root, rounds], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function finish(
  child: ReturnType<typeof startWriter>,
): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => {
    child.on('close', (code) => {
      resolve({ code, stderr });
    });
  });
}

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-store-it-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('cache store across processes', () => {
  it('two processes writing the same blobs, records and names at once both succeed', async () => {
    const results = await Promise.all([
      finish(startWriter(root, '24')),
      finish(startWriter(root, '24')),
    ]);
    expect(
      results.map((r) => r.code),
      results.map((r) => r.stderr).join('\n'),
    ).toEqual([0, 0]);
    const store = await openStore({ root });
    expect(await storeProblems(store)).toEqual([]);
    for (let slot = 0; slot < 8; slot++) {
      expect(
        await store.records.load(sha256Digest(`key ${String(slot)}`), { signal }),
      ).toBeDefined();
    }
    expect((await store.images.list()).length).toBe(8);
  });

  it('a store killed with SIGKILL at random moments (25 times) always reopens whole', async () => {
    for (let attempt = 0; attempt < 25; attempt++) {
      const child = startWriter(root, 'forever');
      const done = finish(child);
      // Wait for the child to be writing, then kill it somewhere in the middle of a round.
      await new Promise<void>((resolve) =>
        child.stdout.once('data', () => {
          resolve();
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 150));
      child.kill('SIGKILL');
      expect((await done).code).toBeNull();
      const store = await openStore({ root });
      expect(await storeProblems(store), `after kill ${String(attempt)}`).toEqual([]);
    }
    const store = await openStore({ root });
    await store.prune({ signal });
    expect(await readdir(store.layout.tmp)).toEqual([]);
    expect(await readdir(store.layout.snapshotActive)).toEqual([]);
    expect(await storeProblems(store)).toEqual([]);
  });

  it('a flipped byte in a blob and a deleted file in a snapshot are detected and not used', async () => {
    expect((await finish(startWriter(root, '8'))).code).toBe(0);
    const store = await openStore({ root });
    const record = await store.records.load(sha256Digest('key 3'), { signal });
    const layer = record?.blobs?.[0];
    const snapshot = record?.snapshot;
    if (layer === undefined || snapshot === undefined) throw new Error('the writer left no record');
    const handle = await open(blobPath(store.layout, layer.digest), 'r+');
    await handle.write(Buffer.from([0x42]), 0, 1, 1000);
    await handle.close();
    await unlink(join(store.snapshots.path(snapshot), 'f7'));

    const reopened = await openStore({ root });
    const problems = await storeProblems(reopened);
    expect(problems.some((p) => p.startsWith(`blob ${layer.digest} corrupt`))).toBe(true);
    expect(problems.some((p) => p.startsWith(`snapshot ${snapshot}`))).toBe(true);
    // Detected once, then gone: nothing built from them can be used.
    expect(await reopened.content.info(layer.digest)).toBeUndefined();
    expect(await reopened.snapshots.get(snapshot)).toBeUndefined();
  });

  it('an overlay mount of a chain with relative lowerdirs shows the merged layers', async (ctx) => {
    requires(ctx, 'root', 'overlay');
    const store = await openStore({ root });
    const base = await store.snapshots.prepare({ signal });
    await (await open(join(base.upperdir, 'from-base'), 'w')).close();
    await store.snapshots.commit(base.id, { signal });
    const top = await store.snapshots.prepare({ signal, parent: base.id });
    await (await open(join(top.upperdir, 'from-top'), 'w')).close();
    await store.snapshots.commit(top.id, { signal });
    const run = await store.snapshots.prepare({ signal, parent: top.id });
    const target = join(root, 'mnt');
    await mkdir(target);
    const options = run.mount.options ?? '';
    const mounted = spawnSync(
      'sh',
      [
        '-c',
        `cd "$1" && mount -t overlay overlay -o "$2" "$3"`,
        'sh',
        run.mount.cwd,
        options,
        target,
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(mounted.stderr).toBe('');
    try {
      expect((await readdir(target)).sort()).toEqual(['from-base', 'from-top']);
    } finally {
      spawnSync('umount', [target]);
    }
  });
});
