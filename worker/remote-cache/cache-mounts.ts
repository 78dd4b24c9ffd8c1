import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, mkdtemp } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';
import { sha256Digest, TbuildError, type Descriptor, type Digest } from '../../core/index.js';
import { cacheMountPath } from '../engine/ops/cache-mount.js';
import { applyLayerTar, upperDirToTar } from '../layers/index.js';

const gzipBytes = promisify(gzip);

/** One exported cache mount: its layer blob (gzip of a tar) and the tar's digest. */
export interface CacheMountLayer {
  readonly descriptor: Descriptor;
  readonly diffId: Digest;
}

/** The directory of cache mount `id` (one without `from`) under the root, as engine.ts places them. */
export function cacheMountDirOf(root: string, id: string): string {
  return cacheMountPath(join(root, 'v1', 'cache-mounts'), id);
}

/** Whether a directory is absent or has nothing in it. */
export async function isEmptyDirectory(dir: string): Promise<boolean> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.length === 0;
}

/**
 * A cache mount directory as a layer blob, or undefined when it is empty. The
 * tar is sorted with every time clamped to 0 and gzip writes no time, so the
 * same content gives the same blob: an unchanged mount is not sent again.
 */
export async function packCacheMount(
  dir: string,
  signal: AbortSignal,
): Promise<{ layer: CacheMountLayer; bytes: Buffer } | undefined> {
  if (await isEmptyDirectory(dir)) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of upperDirToTar(dir, { signal, sourceDateEpoch: 0 }))
    chunks.push(chunk as Buffer);
  const tar = Buffer.concat(chunks);
  const bytes = await gzipBytes(tar);
  return {
    layer: {
      descriptor: {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: sha256Digest(bytes),
        size: bytes.length,
      },
      diffId: sha256Digest(tar),
    },
    bytes,
  };
}

/**
 * Fills the cache mount directory `dir` from its layer blob: unpacked aside
 * and renamed into place, so a step never mounts half of it; a directory that
 * is there and not empty by then is kept (another build filled or used it).
 */
export async function unpackCacheMount(
  blob: Readable,
  layer: CacheMountLayer,
  dir: string,
  signal: AbortSignal,
): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  const aside = await mkdtemp(join(dirname(dir), '.import-'));
  try {
    const tree = join(aside, 'mount');
    await mkdir(tree);
    const hash = createHash('sha256');
    blob.on('data', (chunk: Buffer) => hash.update(chunk));
    await applyLayerTar(blob.pipe(createGunzip()), tree, { signal });
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== layer.descriptor.digest)
      throw new TbuildError(
        'TB_CACHE_IMPORT',
        `cache mount blob ${layer.descriptor.digest} is damaged (its bytes are ${got})`,
      );
    if (!(await isEmptyDirectory(dir))) return;
    await rm(dir, { recursive: true, force: true });
    await rename(tree, dir);
  } finally {
    await rm(aside, { recursive: true, force: true });
  }
}

/** Reads a blob held in memory as a stream (an export's packed mount). */
export function bytesStream(bytes: Buffer): Readable {
  return Readable.from([bytes]);
}
