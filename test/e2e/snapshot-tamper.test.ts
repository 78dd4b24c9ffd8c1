import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requires, rootWithBusybox, runTbuild, writeContext } from '../harness/index.js';

/**
 * Issue #17: a same-size edit of a file inside a stored snapshot is not seen by
 * the snapshot's commit summary (sizes and metadata, not bytes). When that
 * step's layer blob is also gone or damaged, the blob made again from the
 * snapshot would carry the edit into the image. The layer's diffID recorded
 * when it was first made catches it: the snapshot is dropped, the step runs
 * again, and the exported layer has the step's real output.
 */
const ORIGINAL = 'original-content\n';
const TAMPERED = 'tampered-content\n';
const DOCKERFILE = `FROM busybox
RUN printf 'original-content\\n' > /data.txt
`;

let work = '';
let template = '';
let context = '';

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  work = await mkdtemp(join(tmpdir(), 'tbuild-tamper-'));
  template = await rootWithBusybox();
  context = await writeContext(join(work, 'context'), { Dockerfile: DOCKERFILE });
});

afterAll(async () => {
  for (const dir of [work, template])
    if (dir !== '') await rm(dir, { recursive: true, force: true });
});

interface Manifest {
  readonly layers: readonly { readonly digest: string }[];
}

/** The top layer's digest in an OCI archive and its data.txt, read with tar. */
async function topLayer(archive: string): Promise<{ digest: string; data: string }> {
  const dir = await mkdtemp(join(work, 'unpacked-'));
  const unpacked = spawnSync('tar', ['-xf', archive, '-C', dir], { encoding: 'utf8' });
  expect(unpacked.status, unpacked.stderr).toBe(0);
  const blob = (digest: string): string => join(dir, 'blobs', 'sha256', digest.slice(7));
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  const manifest = JSON.parse(
    await readFile(blob(index.manifests[0]?.digest ?? ''), 'utf8'),
  ) as Manifest;
  const digest = manifest.layers.at(-1)?.digest ?? '';
  const data = spawnSync('tar', ['-xzOf', blob(digest), 'data.txt'], { encoding: 'utf8' });
  expect(data.status, data.stderr).toBe(0);
  await rm(dir, { recursive: true, force: true });
  return { digest, data: data.stdout };
}

/** The stored snapshot directories holding a data.txt (the RUN step's layer). */
async function snapshotsWithData(root: string): Promise<string[]> {
  const dir = join(root, 'v1', 's');
  const found: string[] = [];
  for (const id of await readdir(dir)) {
    if (id.startsWith('_')) continue;
    const file = join(dir, id, 'data.txt');
    if (await stat(file).catch(() => undefined)) found.push(file);
  }
  return found;
}

describe('a same-size edit inside a stored snapshot', () => {
  for (const blobFault of ['removed', 'damaged'] as const) {
    it(`is caught when the layer blob is ${blobFault}: the step runs again and the right layer is exported`, async (ctx) => {
      requires(ctx, 'root', 'overlay', 'busybox');
      const root = join(work, `root-${blobFault}`);
      const copied = spawnSync('cp', ['-a', template, root], { encoding: 'utf8' });
      expect(copied.stderr).toBe('');
      const out = join(work, `out-${blobFault}`);
      await mkdir(out, { recursive: true });

      const first = runTbuild(
        ['build', '--progress=plain', '-o', `type=oci,dest=${join(out, '1.tar')}`, context],
        { root },
      );
      expect(first.code, first.stderr).toBe(0);
      const built = await topLayer(join(out, '1.tar'));
      expect(built.data).toBe(ORIGINAL);

      // The edit keeps the size and the mtime: nothing but the bytes differ.
      const [file, ...others] = await snapshotsWithData(root);
      expect(others).toEqual([]);
      const before = await stat(file ?? '');
      await writeFile(file ?? '', TAMPERED);
      await utimes(file ?? '', before.atime, before.mtime);
      const blob = join(root, 'v1', 'blobs', 'sha256', built.digest.slice(7));
      if (blobFault === 'removed') {
        await rm(blob);
      } else {
        const bytes = await readFile(blob);
        const middle = Math.floor(bytes.length / 2);
        bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
        await writeFile(blob, bytes);
      }

      const second = runTbuild(
        ['build', '--progress=plain', '-o', `type=oci,dest=${join(out, '2.tar')}`, context],
        { root },
      );
      expect(second.code, second.stderr).toBe(0);
      // The RUN step ran again (plain progress shows a cached step as CACHED, a run one as DONE).
      const runBlocks = second.stderr
        .split('\n\n')
        .filter((block) => block.includes("RUN printf 'original-content"));
      expect(runBlocks.some((block) => /DONE/.test(block))).toBe(true);
      const rebuilt = await topLayer(join(out, '2.tar'));
      expect(rebuilt.data).toBe(ORIGINAL);
      // The tampered snapshot is never used again: the snapshot the step made anew holds the real bytes.
      const live = spawnSync('sh', ['-c', `cat ${join(root, 'v1', 's', '_meta')}/*.json`], {
        encoding: 'utf8',
      });
      const liveIds = [...live.stdout.matchAll(/"id":"([a-z0-9]{6})"/g)].map((match) => match[1]);
      for (const path of await snapshotsWithData(root)) {
        const id = path.split('/').at(-2) ?? '';
        if (liveIds.includes(id)) expect(await readFile(path, 'utf8')).toBe(ORIGINAL);
      }
    }, 120_000);
  }
});
