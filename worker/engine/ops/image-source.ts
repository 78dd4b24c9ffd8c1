import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import {
  canonicalDigest,
  sha256Digest,
  TbuildError,
  type Descriptor,
  type Digest,
} from '../../../core/index.js';
import type { ImageSource, Vertex } from '../../../solver/index.js';
import type { JobContext, SolverOp } from '../../../solver/index.js';
import { applyLayerTar } from '../../layers/index.js';
import { chainIds, readLocalImage, type LocalImage } from '../local-images.js';
import { zstdDecompress } from '../zstd.js';
import { snapshotRef, type WorkerRef } from '../refs.js';
import { writeSnapshot } from '../views.js';
import type { OpContext } from './context.js';

/** Snapshot labels that tie a layer snapshot to the blob it came from, so export can reuse the blob. */
export const LAYER_LABELS = {
  digest: 'tbuild.layer.digest',
  diffId: 'tbuild.layer.diffid',
  mediaType: 'tbuild.layer.mediatype',
  size: 'tbuild.layer.size',
} as const;

/**
 * `FROM image`: the image's layers as a chain of snapshots. Its cache key is
 * the chain id of its layers' diff ids, not its name or manifest digest, so a
 * re-tagged or re-pushed identical image still hits. Layers are extracted the
 * first time a step needs them and shared by every image that has them.
 */
export function imageSourceOp(
  vertex: Vertex,
  source: ImageSource,
  context: OpContext,
): SolverOp<WorkerRef> {
  let image: Promise<LocalImage> | undefined;
  const load = (signal: AbortSignal): Promise<LocalImage> => {
    image ??= readLocalImage(context.store, source.ref, signal).then((found) => {
      if (found !== undefined) return found;
      if (context.puller !== undefined) return context.puller.resolve(source.ref, signal);
      throw new TbuildError(
        'TB_IMAGE_NOT_FOUND',
        `image ${source.ref} is not in the local image store`,
        {
          hint: 'load it first (tbuild load FILE), or build it with -t',
          details: { ref: source.ref, vertex: vertex.digest },
        },
      );
    });
    return image;
  };
  return {
    async cacheMap(job) {
      const found = await load(job.signal);
      const chain = chainIds(found.config.rootfs.diff_ids).at(-1) ?? 'empty';
      return {
        digest: canonicalDigest({
          encoding: 'tbuild.op.v1',
          kind: 'image',
          chain,
          platform: source.platform,
        }),
        inputs: [],
        cacheable: true,
      };
    },
    async exec(_inputs, job) {
      const found = await load(job.signal);
      return snapshotRef(await ensureLayerSnapshots(found, context, job, vertex.digest));
    },
  };
}

/** The top snapshot of an image's layer chain, extracting the layers not yet extracted. */
async function ensureLayerSnapshots(
  image: LocalImage,
  context: OpContext,
  job: JobContext,
  vertex: Digest,
): Promise<string | undefined> {
  const diffIds = image.config.rootfs.diff_ids;
  if (diffIds.length !== image.layers.length) {
    throw new TbuildError(
      'TB_IMAGE_INVALID',
      `image ${image.name} has ${String(image.layers.length)} layers but ${String(diffIds.length)} diff_ids`,
    );
  }
  const chains = chainIds(diffIds);
  // Layers missing from the content store are fetched in parallel while earlier ones extract.
  let downloads: { start: number; layers: Promise<void>[] | undefined } | undefined;
  const download = (index: number): Promise<void> | undefined => {
    downloads ??= {
      start: index,
      layers: context.puller?.fetchLayers(image, image.layers.slice(index), {
        signal: job.signal,
        onProgress: (digest, current, total, completed) => {
          job.progress({
            type: 'vertex.status',
            vertex,
            id: digest,
            current,
            total,
            completed,
            at: Date.now(),
          });
        },
      }),
    };
    return downloads.layers?.[index - downloads.start];
  };
  let parent: string | undefined;
  for (const [index, layer] of image.layers.entries()) {
    const chain = chains[index] as Digest;
    const key = sha256Digest(`tbuild.layer-snapshot.v1 ${chain}`);
    const record = await context.store.records.load(key, { signal: job.signal });
    const known =
      record?.snapshot === undefined
        ? undefined
        : await context.store.snapshots.get(record.snapshot);
    if (known !== undefined && known.parent === parent) {
      parent = known.id;
      continue;
    }
    await download(index);
    parent = await extractLayer(layer, diffIds[index] as Digest, parent, context, job);
    await context.store.records.save(
      key,
      { snapshot: parent, blobs: [layer], description: `layer ${layer.digest}` },
      job.signal,
    );
  }
  return parent;
}

async function extractLayer(
  layer: Descriptor,
  diffId: Digest,
  parent: string | undefined,
  context: OpContext,
  job: JobContext,
): Promise<string> {
  const labels = {
    [LAYER_LABELS.digest]: layer.digest,
    [LAYER_LABELS.diffId]: diffId,
    [LAYER_LABELS.mediaType]: layer.mediaType,
    [LAYER_LABELS.size]: String(layer.size),
  };
  return writeSnapshot(
    context.store,
    parent,
    { signal: job.signal, labels, direct: true },
    async (dir) => {
      const blob = await context.store.content.readStream(layer.digest, { signal: job.signal });
      await applyLayerTar(decompressed(blob, layer.mediaType, job.signal), dir, {
        signal: job.signal,
        logger: job.logger,
      });
    },
  );
}

/** The uncompressed tar of a layer blob. */
export function decompressed(blob: Readable, mediaType: string, signal: AbortSignal): Readable {
  if (mediaType.endsWith('zstd')) return zstdDecompress(blob, signal);
  return mediaType.endsWith('gzip') ? blob.pipe(createGunzip()) : blob;
}
