import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { neverAborted as signal } from '../../../core/index.js';
import { openStore, type TbuildStore } from '../../../cache/index.js';
import { emptyImageResolver, lowerDockerfile, parseDockerfile } from '../../../frontend/index.js';
import type { Vertex } from '../../../solver/index.js';
import {
  copyLineageKey,
  previousLayer,
  rememberLayer,
} from '../../../worker/engine/ops/copy-lineage.js';

/** The record of a COPY step's last layer, which the next run links unchanged files from. */
let root = '';
let store: TbuildStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-lineage-'));
  store = await openStore({ root, durable: false });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function copyVertex(): Promise<Vertex> {
  const parsed = parseDockerfile('FROM scratch\nCOPY src /src\n', { file: 'Dockerfile' });
  const lowered = await lowerDockerfile(parsed, {
    file: 'Dockerfile',
    buildArgs: new Map(),
    resolver: emptyImageResolver,
    signal,
  });
  return lowered.root as Vertex;
}

async function committedSnapshot(): Promise<string> {
  const active = await store.snapshots.prepare({ signal });
  return (await store.snapshots.commit(active.id, { signal })).id;
}

describe('copy lineage', () => {
  it('gives back the layer and the sources it was made from', async () => {
    const vertex = await copyVertex();
    const key = copyLineageKey(vertex);
    expect(await previousLayer(store, key, signal)).toBeUndefined();
    const snapshot = await committedSnapshot();
    const sources = new Map([
      ['src/a', '2049:12:6000:1.5:2.5'],
      ['src/odd\nname\twith tabs', '2049:13:0:1:2'],
    ]);
    await rememberLayer(store, key, snapshot, { vertex, sources, signal });
    const previous = await previousLayer(store, key, signal);
    expect(previous?.dir).toBe(store.snapshots.path(snapshot));
    expect(previous?.sources).toEqual(sources);
  });

  it('still reads the sources of records written as one object per file', async () => {
    const vertex = await copyVertex();
    const key = copyLineageKey(vertex);
    const snapshot = await committedSnapshot();
    await store.records.save(key, { snapshot, data: { sources: { 'src/a': 'id-a' } } }, signal);
    expect((await previousLayer(store, key, signal))?.sources).toEqual(
      new Map([['src/a', 'id-a']]),
    );
  });
});
