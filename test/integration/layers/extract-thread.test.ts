/**
 * Layer extraction on piscina threads (issue #5): the real pool, run from source through
 * tsx, with the store and snapshotter of a real root. Shows the work happens off the main
 * thread, that error codes survive the thread boundary, and that a cancel stops the thread
 * before anything is committed or left behind.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { threadId } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isTbuildError,
  neverAborted,
  noopLogger,
  parseDigest,
  type Descriptor,
  type Digest,
} from '../../../core/index.js';
import { blobPath, openStore, type TbuildStore } from '../../../cache/index.js';
import { createThreadPool, type ThreadPool } from '../../../worker/threads/index.js';
import { commitStaged, stageLayer } from '../../../worker/engine/layer-unpack.js';
import { requires } from '../../harness/index.js';
import { collect } from './tree.js';

type Entry = Partial<Header> & Pick<Header, 'name'> & { body?: Buffer };

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

async function tarOf(entries: readonly Entry[]): Promise<Buffer> {
  const archive = pack();
  for (const { body, ...header } of entries) {
    archive.entry({ mode: 0o644, mtime: new Date(1_600_000_000_000), ...header }, body ?? '');
  }
  archive.finalize();
  return collect(Readable.from(archive));
}

const sha256 = (bytes: Uint8Array): Digest =>
  parseDigest(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);

interface Layer {
  readonly descriptor: Descriptor;
  readonly diffId: Digest;
  readonly path: string;
}

/** Writes a gzip layer of `entries` to the store; returns its descriptor and diff id. */
async function storeLayer(entries: readonly Entry[]): Promise<Layer> {
  const tar = await tarOf(entries);
  const blob = gzipSync(tar, { level: 1 });
  const digest = sha256(blob);
  await store.content.writeBuffer(blob, { signal: neverAborted, expected: { digest } });
  return {
    descriptor: { mediaType: GZIP, digest, size: blob.length },
    diffId: sha256(tar),
    path: blobPath(store.layout, digest),
  };
}

/** Many small random files: enough work that a cancel lands mid-extraction. */
function manyFiles(count: number): Entry[] {
  const entries: Entry[] = [{ name: 'data', type: 'directory', mode: 0o755 }];
  for (let index = 0; index < count; index++) {
    const body = createHash('sha256').update(String(index)).digest();
    entries.push({ name: `data/f${String(index)}`, body: Buffer.concat(Array(64).fill(body)) });
  }
  return entries;
}

let root = '';
let store: TbuildStore;
let pool: ThreadPool;

beforeAll(async () => {
  root = mkdtempSync('/var/tmp/tbuild-extract-thread-');
  store = await openStore({ root, durable: false });
  pool = createThreadPool({ fromSource: true, maxThreads: 2 });
});

afterAll(async () => {
  await pool.close();
  rmSync(root, { recursive: true, force: true });
});

const logger = noopLogger;

describe('layer extraction on pool threads', () => {
  it('runs on another thread, checks both digests and stacks the layer without copying', async (ctx) => {
    requires(ctx, 'root');
    const layer = await storeLayer([
      { name: 'etc', type: 'directory', mode: 0o755 },
      { name: 'etc/hello', body: Buffer.from('hello\n') },
      { name: 'etc/link', type: 'symlink', linkname: 'hello' },
    ]);
    const result = await pool.run('extractLayer', {
      blob: { path: layer.path, ...layer.descriptor, diffId: layer.diffId },
      dir: await freshDir('direct'),
      cancel: new Int32Array(new SharedArrayBuffer(4)),
    });
    expect(result.threadId).not.toBe(threadId);
    expect(result.threadId).toBeGreaterThan(0);
    expect(result.diffId).toBe(layer.diffId);
    expect(result.entries).toBe(3);

    const staged = await stageLayer(store, pool, layer, { signal: neverAborted, logger });
    const id = await commitStaged(store, undefined, staged, { signal: neverAborted, labels: {} });
    expect(readFileSync(`${store.snapshots.path(id)}/etc/hello`, 'utf8')).toBe('hello\n');
    expect(await store.snapshots.listActive()).toEqual([]);
  });

  it('keeps TbuildError codes across the thread boundary, and commits nothing', async (ctx) => {
    requires(ctx, 'root');
    const slip = await storeLayer([{ name: '../../escape', body: Buffer.from('x') }]);
    const good = await storeLayer([{ name: 'a', body: Buffer.from('a') }]);
    const cases: [Layer, string][] = [
      [slip, 'TB_LAYER_UNSAFE_PATH'],
      [{ ...good, diffId: sha256(Buffer.from('another tar')) }, 'TB_IMAGE_INVALID'],
    ];
    for (const [layer, code] of cases) {
      const error: unknown = await stageLayer(store, pool, layer, {
        signal: neverAborted,
        logger,
      }).catch((caught: unknown) => caught);
      expect(isTbuildError(error, code as 'TB_IMAGE_INVALID')).toBe(true);
    }
    // A blob changed on disk after it was stored: found while extracting, then removed.
    writeFileSync(good.path, gzipSync(await tarOf([{ name: 'b', body: Buffer.from('b') }])));
    const corrupt: unknown = await stageLayer(store, pool, good, {
      signal: neverAborted,
      logger,
    }).catch((caught: unknown) => caught);
    expect(isTbuildError(corrupt, 'TB_CONTENT_CORRUPT')).toBe(true);
    expect(await store.content.info(good.descriptor.digest)).toBeUndefined();
    expect(await store.snapshots.listActive()).toEqual([]);
  });

  it('stops the thread when canceled mid-extraction and leaves nothing behind', async (ctx) => {
    requires(ctx, 'root');
    const count = 4000;
    const layer = await storeLayer(manyFiles(count));
    const before = new Set((await store.snapshots.list()).map((snapshot) => snapshot.id));
    const controller = new AbortController();
    const staging = stageLayer(store, pool, layer, { signal: controller.signal, logger });
    // Cancel once the thread has written some files but (with 4000) surely not all.
    const written = await waitForFiles(200);
    controller.abort();
    const error: unknown = await staging.catch((caught: unknown) => caught);
    expect(isTbuildError(error, 'TB_CANCELED')).toBe(true);
    expect(written).toBeLessThan(count);
    expect(await store.snapshots.listActive()).toEqual([]);
    const after = (await store.snapshots.list()).filter((snapshot) => !before.has(snapshot.id));
    expect(after).toEqual([]);
    // The pool still works afterwards: the thread stopped its task, it was not killed mid-way.
    const again = await stageLayer(store, pool, layer, { signal: neverAborted, logger });
    expect(again.entries).toBe(count + 1);
    await store.snapshots.abort(again.id);
  });
});

async function freshDir(name: string): Promise<string> {
  const dir = `${root}/${name}`;
  await mkdir(dir);
  return dir;
}

/** Files under data/ of the (only) active snapshot, once there are at least `least`. */
async function waitForFiles(least: number): Promise<number> {
  for (;;) {
    const active = store.layout.snapshotActive;
    for (const id of readdirSync(active)) {
      const files = (() => {
        try {
          return readdirSync(`${active}/${id}/fs/data`).length;
        } catch {
          return 0;
        }
      })();
      if (files >= least) return files;
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
