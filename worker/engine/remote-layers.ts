import { Readable } from 'node:stream';
import {
  isTbuildError,
  mapLimit,
  TbuildError,
  toTbuildError,
  type Descriptor,
  type Digest,
} from '../../core/index.js';
import type { JobContext } from '../../solver/index.js';
import type { OpContext } from './ops/context.js';
import { ensureLayerChain, type LayerFetcher } from './ops/image-source.js';
import { snapshotRef, type RemoteRef, type SnapshotRef, type WorkerRef } from './refs.js';

/** Remote blobs fetched at once for one result. */
const FETCH_CONCURRENCY = 4;

/**
 * A remote cache hit made local: its layers are fetched (only those whose
 * snapshots are not here yet, found by chain id) and extracted into a chain of
 * snapshots. Called only when something needs the files, so a hit that feeds
 * only other hits downloads nothing.
 *
 * A blob that cannot be fetched or does not match its digest is named in a
 * warning, the cache's results that use it stop hitting, and the error is
 * TB_SNAPSHOT_NOT_FOUND: the solver then solves once more and runs the steps
 * instead, so a damaged cache never makes a damaged image.
 */
export async function materializeRemote(
  ref: RemoteRef,
  context: Pick<OpContext, 'store' | 'pool'>,
  job: JobContext,
  vertex: Digest,
): Promise<SnapshotRef> {
  const fetch: LayerFetcher = (descriptors, options) => {
    const waiters = descriptors.map(() => deferred());
    mapLimit(
      descriptors,
      FETCH_CONCURRENCY,
      async (descriptor, index, signal) => {
        try {
          await fetchBlob(ref, descriptor, context, signal, options.onProgress);
          waiters[index]?.resolve();
        } catch (error) {
          const failure = cacheBlobError(ref, descriptor, error, signal);
          if (failure.code !== 'TB_CANCELED') {
            job.progress({ type: 'warning', message: failure.message, vertex, at: Date.now() });
          }
          waiters[index]?.reject(failure);
          throw failure;
        }
      },
      options.signal,
    ).catch((error: unknown) => {
      for (const waiter of waiters) waiter.reject(error);
    });
    // Each is awaited in turn by the chain; a rejection seen later must not count as unhandled.
    for (const waiter of waiters) waiter.promise.catch(() => undefined);
    return waiters.map((waiter) => waiter.promise);
  };
  const top = await ensureLayerChain(ref.layers, fetch, context, job, vertex);
  return snapshotRef(top);
}

/**
 * A remote result's layer blobs copied into the content store, not extracted:
 * what an archive output (oci, docker) of an image whose layers are known by
 * blob only needs. A blob that fails withdraws the results that use it, as
 * materializeRemote does, so the build solves again.
 */
export async function fetchRemoteBlobs(
  ref: RemoteRef,
  context: Pick<OpContext, 'store'>,
  job: JobContext,
  vertex: Digest,
): Promise<void> {
  await mapLimit(
    ref.layers,
    FETCH_CONCURRENCY,
    async (layer, _index, signal) => {
      try {
        await fetchBlob(ref, layer.descriptor, context, signal, () => undefined);
      } catch (error) {
        const failure = cacheBlobError(ref, layer.descriptor, error, signal);
        if (failure.code !== 'TB_CANCELED')
          job.progress({ type: 'warning', message: failure.message, vertex, at: Date.now() });
        throw failure;
      }
    },
    job.signal,
  );
}

/** The inputs of a step with every remote result among them made local. */
export function materializeInputs(
  inputs: readonly WorkerRef[],
  context: Pick<OpContext, 'store' | 'pool'>,
  job: JobContext,
  vertex: Digest,
): Promise<WorkerRef[]> {
  return Promise.all(
    inputs.map((input) =>
      input.kind === 'remote'
        ? materializeRemote(input, context, job, vertex)
        : Promise.resolve(input),
    ),
  );
}

async function fetchBlob(
  ref: RemoteRef,
  descriptor: Descriptor,
  context: Pick<OpContext, 'store'>,
  signal: AbortSignal,
  onProgress: (digest: Digest, current: number, total: number, completed: boolean) => void,
): Promise<void> {
  if ((await context.store.content.info(descriptor.digest)) !== undefined) return;
  const source = ref.source.open(descriptor, signal);
  // Counted on the way: a failing source fails the write (no stray 'error' event).
  async function* counted(): AsyncGenerator<Uint8Array> {
    let received = 0;
    for await (const chunk of source) {
      const bytes = chunk as Uint8Array;
      received += bytes.length;
      onProgress(descriptor.digest, received, descriptor.size, false);
      yield bytes;
    }
  }
  const body = Readable.from(counted());
  await context.store.content.writeStream(body, {
    signal,
    expected: { digest: descriptor.digest, size: descriptor.size },
  });
  onProgress(descriptor.digest, descriptor.size, descriptor.size, true);
}

function cacheBlobError(
  ref: RemoteRef,
  descriptor: Descriptor,
  error: unknown,
  signal: AbortSignal,
): TbuildError {
  const cause = toTbuildError(error);
  if (signal.aborted || (isTbuildError(error) && error.code === 'TB_CANCELED')) return cause;
  ref.source.discard(descriptor.digest);
  return new TbuildError(
    'TB_SNAPSHOT_NOT_FOUND',
    `cache blob ${descriptor.digest} from ${ref.source.name} could not be used (${cause.message}); the steps that need it run instead`,
    { details: { blob: descriptor.digest, cache: ref.source.name }, cause },
  );
}

function deferred(): {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
} {
  let resolve: () => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}
