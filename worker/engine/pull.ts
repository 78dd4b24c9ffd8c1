import {
  mapLimit,
  TbuildError,
  type Descriptor,
  type Digest,
  type Logger,
} from '../../core/index.js';
import {
  fetchBlob,
  fetchBlobBytes,
  parseReference,
  resolveImage,
  type RegistryClient,
} from '../../registry-client/index.js';
import { normalizeImageName, readLocalImage, type LocalImage } from './local-images.js';
import { imagePullError, layerPullError } from './registry-access.js';
import type { BuildStore } from './store.js';

/** Bytes received of one blob; `completed` once it is verified and stored. */
export type BlobProgress = (
  digest: Digest,
  current: number,
  total: number,
  completed: boolean,
) => void;

export interface PullOptions {
  readonly signal: AbortSignal;
  /** Parallel layer downloads; default 4. */
  readonly concurrency?: number;
  readonly onProgress?: BlobProgress;
}

/**
 * Images from registries into the local store. Resolving (`resolve`) stores the
 * manifest and config and names the image, which is all the frontend needs; layers
 * are fetched when a step needs them (`fetchLayers`), in parallel, each verified
 * while it streams into the content store. A blob already in the store is never
 * fetched again, and one blob is fetched once however many builds want it.
 */
export class ImagePuller {
  private readonly inflight = new Map<Digest, Promise<void>>();

  private readonly store: BuildStore;
  private readonly client: () => RegistryClient;
  private readonly logger: Logger;

  constructor(store: BuildStore, client: () => RegistryClient, logger: Logger) {
    this.store = store;
    this.client = client;
    this.logger = logger;
  }

  /** Asks the registry what `name` is now (linux/amd64), stores manifest and config, names it locally. */
  async resolve(name: string, signal: AbortSignal): Promise<LocalImage> {
    const normalized = normalizeImageName(name);
    const ref = parseReference(normalized);
    const client = this.client();
    const resolved = await resolveImage(client, ref, { signal }).catch((error: unknown) => {
      throw imagePullError(error, normalized, ref.registry);
    });
    const manifest = resolved.manifest;
    await this.store.content.writeBuffer(manifest.bytes, {
      signal,
      expected: { digest: manifest.digest, size: manifest.bytes.length },
    });
    const config = manifest.image.config;
    if ((await this.store.content.info(config.digest)) === undefined) {
      const bytes = await fetchBlobBytes(client, ref, config, { signal });
      await this.store.content.writeBuffer(bytes, {
        signal,
        expected: { digest: config.digest, size: config.size },
      });
    }
    const descriptor: Descriptor = {
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.bytes.length,
    };
    const previous = await this.store.images.get(normalized);
    await this.store.images.put(normalized, descriptor);
    this.logger.info('image resolved', {
      image: normalized,
      digest: manifest.digest,
      changed: previous?.target.digest !== manifest.digest,
    });
    const image = await readLocalImage(this.store, normalized, signal);
    if (image === undefined)
      throw new TbuildError('TB_INTERNAL', `image ${normalized} vanished after it was stored`);
    return image;
  }

  /**
   * Makes sure each of `layers` is in the content store, downloading the missing ones
   * from `image`'s repository at most `concurrency` at a time. Returns one promise per
   * layer, in order, so a caller can extract the first layer while others still arrive.
   */
  fetchLayers(
    image: LocalImage,
    layers: readonly Descriptor[],
    options: PullOptions,
  ): Promise<void>[] {
    const waiters = layers.map(() => deferred());
    const repo = parseReference(image.name);
    const task = async (layer: Descriptor, index: number, signal: AbortSignal): Promise<void> => {
      const waiter = waiters[index];
      try {
        await this.ensureBlob(repo, layer, { ...options, signal });
        waiter?.resolve();
      } catch (failure) {
        const error = layerPullError(failure, image.name);
        waiter?.reject(error);
        throw error;
      }
    };
    mapLimit(layers, options.concurrency ?? 4, task, options.signal).catch((error: unknown) => {
      // Layers never started are failed with the first error, so no waiter hangs.
      for (const waiter of waiters) waiter.reject(error);
    });
    return waiters.map((waiter) => waiter.promise);
  }

  private ensureBlob(
    repo: ReturnType<typeof parseReference>,
    layer: Descriptor,
    options: PullOptions,
  ): Promise<void> {
    const running = this.inflight.get(layer.digest);
    if (running !== undefined) return running;
    const done = (async () => {
      if ((await this.store.content.info(layer.digest)) !== undefined) return;
      const progress = throttled(options.onProgress, layer.digest);
      const body = fetchBlob(this.client(), repo, layer, {
        signal: options.signal,
        onProgress: (received) => {
          progress(received, layer.size, false);
        },
      });
      await this.store.content.writeStream(body, {
        signal: options.signal,
        expected: { digest: layer.digest, size: layer.size },
      });
      options.onProgress?.(layer.digest, layer.size, layer.size, true);
    })().finally(() => this.inflight.delete(layer.digest));
    this.inflight.set(layer.digest, done);
    return done;
  }
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  let settled = false;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A waiter nobody awaits (a later layer after a failure) must not be an unhandled rejection.
  promise.catch(() => undefined);
  return {
    promise,
    resolve: () => {
      if (!settled) resolve();
      settled = true;
    },
    reject: (error) => {
      if (!settled) reject(error);
      settled = true;
    },
  };
}

/** At most one progress event per blob every 100 ms; the display needs no more. */
function throttled(
  onProgress: BlobProgress | undefined,
  digest: Digest,
): (current: number, total: number, completed: boolean) => void {
  let last = 0;
  return (current, total, completed) => {
    const now = Date.now();
    if (onProgress === undefined || (!completed && now - last < 100)) return;
    last = now;
    onProgress(digest, current, total, completed);
  };
}
