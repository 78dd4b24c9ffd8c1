import {
  canonicalDigest,
  sha256Digest,
  TbuildError,
  throwIfAborted,
  type Descriptor,
  type Digest,
} from '../../../core/index.js';
import type { ImageSource, Vertex } from '../../../solver/index.js';
import type { JobContext, SolverOp } from '../../../solver/index.js';
import { chainIds, readLocalImage, type LocalImage } from '../local-images.js';
import { commitStaged, stageLayer, type StagedLayer } from '../layer-unpack.js';
import { snapshotRef, type WorkerRef } from '../refs.js';
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
        // The image ID: what a miss names when the base image behind FROM changed.
        origin: found.configDescriptor.digest,
      };
    },
    async exec(_inputs, job) {
      const found = await load(job.signal);
      const built = await builtSnapshot(found, context);
      if (built !== undefined) return snapshotRef(built);
      return snapshotRef(await ensureLayerSnapshots(found, context, job, vertex.digest));
    },
  };
}

/**
 * An image built here is its snapshots already (its layers may have no blob
 * at all): the top one, when it is still in the store. Undefined when the
 * image is to be extracted from its blobs.
 */
async function builtSnapshot(image: LocalImage, context: OpContext): Promise<string | undefined> {
  const layers = image.description?.layers;
  const top = layers?.at(-1)?.snapshot;
  if (layers === undefined || layers.length === 0) return undefined;
  if (
    top !== undefined &&
    layers.every((layer) => layer.snapshot !== undefined) &&
    (await context.store.snapshots.get(top)) !== undefined
  )
    return top;
  if (layers.every((layer) => layer.blob !== undefined)) return undefined;
  throw new TbuildError(
    'TB_IMAGE_INVALID',
    `the layers of image ${image.name} are no longer in the local store`,
    { hint: `build ${image.name} again` },
  );
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
  const layers = image.layers.map((descriptor, index) => ({
    descriptor,
    diffId: diffIds[index] as Digest,
  }));
  return ensureLayerChain(
    layers,
    (descriptors, options) => context.puller?.fetchLayers(image, descriptors, options),
    context,
    job,
    vertex,
  );
}

/** Fetches blobs into the content store: one promise per descriptor, in order. */
export type LayerFetcher = (
  descriptors: readonly Descriptor[],
  options: {
    readonly signal: AbortSignal;
    readonly onProgress: (
      digest: Digest,
      current: number,
      total: number,
      completed: boolean,
    ) => void;
  },
) => Promise<void>[] | undefined;

/**
 * The top snapshot of a chain of layers (base first), extracting the layers not
 * yet extracted; each layer's snapshot is found again by its chain id
 * (`tbuild.layer-snapshot.v1 <chainId>`), whatever image or cache it came from.
 */
export async function ensureLayerChain(
  chain: readonly { readonly descriptor: Descriptor; readonly diffId: Digest }[],
  fetch: LayerFetcher,
  context: Pick<OpContext, 'store' | 'pool'>,
  job: JobContext,
  vertex: Digest,
): Promise<string | undefined> {
  const diffIds = chain.map((layer) => layer.diffId);
  const image = { layers: chain.map((layer) => layer.descriptor) };
  const keys = chainIds(diffIds).map((chain) => sha256Digest(`tbuild.layer-snapshot.v1 ${chain}`));
  let parent: string | undefined;
  let first = 0;
  for (; first < image.layers.length; first++) {
    const record = await context.store.records.load(keys[first] as Digest, { signal: job.signal });
    const known =
      record?.snapshot === undefined
        ? undefined
        : await context.store.snapshots.get(record.snapshot);
    // Once one layer is extracted anew, every later one has a new parent: extract them all.
    if (known === undefined || known.parent !== parent) break;
    parent = known.id;
  }
  if (first === image.layers.length) return parent;
  const layers = image.layers.slice(first).map((descriptor, offset) => ({
    descriptor,
    diffId: diffIds[first + offset] as Digest,
    key: keys[first + offset] as Digest,
  }));
  const downloads = fetch(
    layers.map((layer) => layer.descriptor),
    {
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
    },
  );
  // Each layer extracts on a thread as soon as its blob is in the store, into a
  // directory of its own, while later blobs still download; they are stacked in order.
  const failed = new AbortController();
  const signal = AbortSignal.any([job.signal, failed.signal]);
  const slots = new Slots(Math.max(1, context.pool.size));
  let firstError: unknown;
  const staged = layers.map(async (layer, index) => {
    await downloads?.[index];
    return slots.use(signal, () =>
      stageLayer(context.store, context.pool, layer, { signal, logger: job.logger }),
    );
  });
  for (const promise of staged) {
    // A later layer failing stops the others at once rather than when its turn comes.
    promise.catch((error: unknown) => {
      firstError ??= error;
      failed.abort(error);
    });
  }
  try {
    for (const [index, layer] of layers.entries()) {
      const ready = await (staged[index] as Promise<StagedLayer>);
      parent = await commitStaged(context.store, parent, ready, {
        signal: job.signal,
        labels: layerLabels(layer.descriptor, layer.diffId),
      });
      await context.store.records.save(
        layer.key,
        {
          snapshot: parent,
          blobs: [layer.descriptor],
          description: `layer ${layer.descriptor.digest}`,
        },
        job.signal,
      );
    }
  } catch (error) {
    // Stop the other extractions and drop what they staged before giving up.
    firstError ??= error;
    failed.abort(error);
    const leftovers = await Promise.allSettled(staged);
    for (const leftover of leftovers) {
      if (leftover.status === 'fulfilled') {
        await context.store.snapshots.abort(leftover.value.id).catch(() => undefined);
      }
    }
    // The cause, not the cancellations it caused (unless the build itself was canceled).
    throw job.signal.aborted ? error : firstError;
  }
  return parent;
}

function layerLabels(layer: Descriptor, diffId: Digest): Record<string, string> {
  return {
    [LAYER_LABELS.digest]: layer.digest,
    [LAYER_LABELS.diffId]: diffId,
    [LAYER_LABELS.mediaType]: layer.mediaType,
    [LAYER_LABELS.size]: String(layer.size),
  };
}

/** At most `limit` extractions at a time, started in the order they asked. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.free = limit;
  }

  async use<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      throwIfAborted(signal);
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.free++;
      else next();
    }
  }
}
