import type { Digest, Logger } from '../../core/index.js';
import type { Vertex } from '../../solver/index.js';
import type { ThreadPool } from '../threads/index.js';
import { makeLayerBlob, type LayerSettings } from './layer-blob.js';
import { layerDiffId } from './layer-diffid.js';
import type { BuildStore } from './store.js';

/**
 * Makes the layers of the image a build will export while the build still
 * runs: each snapshot of the exported chain is tarred as soon as its step
 * commits, one at a time, in the time the next steps spend in their sandboxes
 * (the main thread mostly waits then). With `blobs` (an output needs the
 * bytes: a push, an archive) the tar is compressed into the layer's blob;
 * without (the local image store only) it is only hashed for its diffID.
 * Export then finds what was made (the same records as its own, so the same
 * bytes). Only the chain of the exported result is made: a builder stage's
 * layers never are.
 */
export class LayerPrefetcher {
  readonly #store: BuildStore;
  readonly #pool: ThreadPool;
  readonly #settings: LayerSettings;
  readonly #blobs: boolean;
  readonly #wanted: ReadonlySet<Digest>;
  readonly #logger: Logger;
  readonly #jobs = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();
  #queue: Promise<void> = Promise.resolve();

  constructor(options: {
    readonly store: BuildStore;
    readonly pool: ThreadPool;
    readonly settings: LayerSettings;
    /** Compressed blobs, not only diffIDs. */
    readonly blobs: boolean;
    readonly root: Vertex;
    readonly logger: Logger;
  }) {
    this.#store = options.store;
    this.#pool = options.pool;
    this.#settings = options.settings;
    this.#blobs = options.blobs;
    this.#wanted = layerVertices(options.root);
    this.#logger = options.logger;
  }

  /**
   * A step of the exported chain runs: its layer will be compressed, so the
   * threads start now. Booting one costs ~100 ms of a loaded machine, which
   * the first layer otherwise waits for once its step is done.
   */
  starting(vertex: Digest): void {
    if (this.#blobs && this.#wanted.has(vertex)) this.#warm();
  }

  /**
   * A step idles (a RUN sleeping or waiting on the network): the CPU is free,
   * so the threads boot now rather than when the first layer needs them.
   */
  idle(): void {
    this.#warm();
  }

  #warm(): void {
    // Only compression runs on the threads; a diffID is hashed on libuv's.
    if (this.#blobs && !this.#stop.signal.aborted) this.#pool.warm();
  }

  /** A step committed `snapshot`: queue its layer if the exported chain has it. */
  committed(vertex: Digest, snapshot: string): void {
    if (!this.#wanted.has(vertex) || this.#jobs.has(snapshot) || this.#stop.signal.aborted) return;
    const job = this.#queue.then(async () => {
      if (this.#stop.signal.aborted) return;
      try {
        if (this.#blobs) {
          await makeLayerBlob(
            snapshot,
            {},
            {
              ...this.#settings,
              store: this.#store,
              pool: this.#pool,
              signal: this.#stop.signal,
            },
          );
        } else {
          await layerDiffId(snapshot, {
            store: this.#store,
            sourceDateEpoch: this.#settings.sourceDateEpoch,
            signal: this.#stop.signal,
          });
        }
      } catch (error) {
        // Export makes it again, and reports what goes wrong then.
        this.#logger.debug('layer made ahead of export failed', { snapshot, error: String(error) });
      }
    });
    this.#queue = job;
    this.#jobs.set(snapshot, job);
  }

  /** Settles when the layer of `snapshot` made ahead is done (or was never started). */
  async ready(snapshot: string): Promise<void> {
    await this.#jobs.get(snapshot);
  }

  /** Stops what is queued; what runs is aborted. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#queue;
  }
}

/**
 * The vertices whose snapshots become layers of `root`'s image: down the root
 * filesystem of each RUN and the base of each file op. Image layers keep their
 * own blobs; merges (COPY --link) make their layers anew and are left to export.
 */
function layerVertices(root: Vertex): Set<Digest> {
  const found = new Set<Digest>();
  for (let vertex: Vertex | undefined = root; vertex !== undefined;) {
    found.add(vertex.digest);
    const below = layerBelow(vertex);
    if (below === false) {
      found.delete(vertex.digest);
      break;
    }
    vertex = below === undefined ? undefined : vertex.inputs[below];
  }
  return found;
}

/** The input a step's layer sits on; undefined on scratch; false when the step makes no layer of its own. */
function layerBelow(vertex: Vertex): number | undefined | false {
  const op = vertex.op;
  if (op.kind === 'file') return op.base;
  if (op.kind !== 'exec') return false;
  for (const mount of op.mounts) {
    if (mount.type === 'bind' && mount.target === '/' && mount.output) return mount.input;
  }
  return undefined;
}
