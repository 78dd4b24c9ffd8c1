import { mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTbuildError, neverAborted as signal } from '../../core/index.js';
import { openStore, type TbuildStore } from '../store.js';
import { MAX_CHAIN_DEPTH } from './types.js';

let root: string;
let store: TbuildStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-snap-'));
  store = await openStore({ root, durable: false });
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function layer(parent: string | undefined, files: Record<string, string>): Promise<string> {
  const active = await store.snapshots.prepare({
    signal,
    ...(parent === undefined ? {} : { parent }),
  });
  for (const [name, text] of Object.entries(files))
    await writeFile(join(active.upperdir, name), text);
  return (await store.snapshots.commit(active.id, { signal })).id;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return isTbuildError(error) ? error.code : String(error);
  }
}

describe('FsSnapshotter', () => {
  it('ensureIntact trusts what it committed, and checks each layer of a chain it found once', async () => {
    const base = await layer(undefined, { a: '1' });
    const top = await layer(base, { b: '2' });
    // This instance committed both: a change on disk now goes unseen (no tree walk).
    await writeFile(join(store.snapshots.path(base), 'a'), 'changed, and longer');
    await expect(store.snapshots.ensureIntact(top, { signal })).resolves.toBeUndefined();
    // Another process (a new store on the root) checks them before use.
    const other = await openStore({ root, durable: false });
    expect(await codeOf(other.snapshots.ensureIntact(top, { signal }))).toBe('TB_SNAPSHOT_CORRUPT');
    expect(await other.snapshots.get(base)).toBeUndefined();
    expect(await codeOf(other.snapshots.ensureIntact(top, { signal }))).toBe(
      'TB_SNAPSHOT_NOT_FOUND',
    );
    const fresh = await openStore({ root, durable: false });
    const intact = await (async () => {
      const active = await fresh.snapshots.prepare({ signal });
      await writeFile(join(active.upperdir, 'c'), '3');
      return (await fresh.snapshots.commit(active.id, { signal })).id;
    })();
    const third = await openStore({ root, durable: false });
    await expect(third.snapshots.ensureIntact(intact, { signal })).resolves.toBeUndefined();
  });

  it('commits layers into a chain and lists lowerdirs top first', async () => {
    const base = await layer(undefined, { a: '1' });
    const top = await layer(base, { b: '2' });
    expect(await store.snapshots.lowerDirs(top)).toEqual([
      store.snapshots.path(top),
      store.snapshots.path(base),
    ]);
    expect(await readdir(store.snapshots.path(top))).toEqual(['b']);
    const info = await store.snapshots.get(top);
    expect(info).toMatchObject({ id: top, parent: base, depth: 2, tree: { entries: 1, bytes: 1 } });
  });

  it('gives an active snapshot relative overlay options that fit a page', async () => {
    const base = await layer(undefined, { a: '1' });
    const active = await store.snapshots.prepare({ parent: base, signal });
    expect(active.mount.options).toBe(
      `lowerdir=${base},upperdir=_active/${active.id}/fs,workdir=_active/${active.id}/work`,
    );
    expect(active.mount.cwd).toBe(join(store.layout.snapshots));
    expect(active.lowerdirs).toEqual([store.snapshots.path(base)]);
    await store.snapshots.abort(active.id);
    expect(await store.snapshots.get(active.id)).toBeUndefined();
  });

  it('stacks MAX_CHAIN_DEPTH layers and refuses the next with TB_SNAPSHOT_STATE before writing', async () => {
    let top: string | undefined;
    for (let depth = 1; depth <= MAX_CHAIN_DEPTH; depth++) top = await layer(top, {});
    expect((await store.snapshots.get(top ?? ''))?.depth).toBe(MAX_CHAIN_DEPTH);
    const refused = await store.snapshots.prepare({ parent: top ?? '', signal }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isTbuildError(refused, 'TB_SNAPSHOT_STATE') && refused.details).toEqual({
      parent: top,
      depth: MAX_CHAIN_DEPTH + 1,
      limit: MAX_CHAIN_DEPTH,
    });
    expect(await readdir(store.layout.snapshotActive)).toEqual([]);
  }, 60_000);

  it('never exposes an active or half-committed snapshot as committed', async () => {
    const active = await store.snapshots.prepare({ signal });
    expect(await store.snapshots.get(active.id)).toBeUndefined();
    expect(await codeOf(store.snapshots.lowerDirs(active.id))).toBe('TB_SNAPSHOT_NOT_FOUND');
    const id = await layer(undefined, { x: 'y' });
    // A crash between the rename and the record: the directory exists, the record does not.
    await unlink(join(store.layout.snapshotMeta, `${id}.json`));
    expect(await store.snapshots.get(id)).toBeUndefined();
  });

  it('detects a deleted file and drops the snapshot and chains through it', async () => {
    const base = await layer(undefined, { a: '1', b: '2' });
    const top = await layer(base, { c: '3' });
    expect((await store.snapshots.verify(base, { signal })).id).toBe(base);
    await unlink(join(store.snapshots.path(base), 'b'));
    expect(await codeOf(store.snapshots.verify(base, { signal }))).toBe('TB_SNAPSHOT_CORRUPT');
    expect(await store.snapshots.get(base)).toBeUndefined();
    expect(await codeOf(store.snapshots.lowerDirs(top))).toBe('TB_SNAPSHOT_NOT_FOUND');
  });

  it('detects changed bytes when content hashing is on', async () => {
    const active = await store.snapshots.prepare({ signal });
    await writeFile(join(active.upperdir, 'f'), 'abc');
    await store.snapshots.commit(active.id, { signal, hashContent: true });
    await writeFile(join(store.snapshots.path(active.id), 'f'), 'abd');
    expect(await codeOf(store.snapshots.verify(active.id, { signal }))).toBe('TB_SNAPSHOT_CORRUPT');
  });

  it('reads the records of a chain once per instance, and forgets those it removes', async () => {
    const base = await layer(undefined, { a: '1' });
    const top = await layer(base, { b: '2' });
    await unlink(join(store.layout.snapshotMeta, `${base}.json`));
    // Committed records never change, so this instance walks the chain from memory;
    // another instance reads the records and finds the base gone.
    expect((await store.snapshots.chain(top)).map((layer) => layer.id)).toEqual([top, base]);
    const other = await openStore({ root, durable: false });
    expect(await codeOf(other.snapshots.chain(top))).toBe('TB_SNAPSHOT_NOT_FOUND');
    expect(await store.snapshots.remove(top)).toBe(true);
    expect(await codeOf(store.snapshots.chain(top))).toBe('TB_SNAPSHOT_NOT_FOUND');
  });

  it('refuses to remove a parent, and removes a leaf', async () => {
    const base = await layer(undefined, { a: '1' });
    const top = await layer(base, {});
    expect(await codeOf(store.snapshots.remove(base))).toBe('TB_SNAPSHOT_STATE');
    expect(await store.snapshots.remove(top)).toBe(true);
    expect(await store.snapshots.remove(base)).toBe(true);
    expect(await store.snapshots.list()).toEqual([]);
  });
});
