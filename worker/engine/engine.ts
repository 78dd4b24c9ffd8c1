import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  neverAborted,
  noopLogger,
  type ImageConfig,
  type Logger,
  type WriteFaults,
} from '../../core/index.js';
import { openStore } from '../../cache/index.js';
import { SandboxExecutor, nativeFs, type Executor } from '../../runtime/index.js';
import type { RegistryClient } from '../../registry-client/index.js';
import { Solver, type Vertex } from '../../solver/index.js';
import { StatCache } from '../contenthash/index.js';
import { ListingMemo } from './listing-memo.js';
import { createThreadPool, type ThreadPool } from '../threads/index.js';
import type { LayerSettings } from './image-export.js';
import { LayerPrefetcher } from './layer-prefetch.js';
import { normalizeImageName, readLocalImage } from './local-images.js';
import { ImagePuller } from './pull.js';
import { createRegistryClient, type RegistrySettings } from './registry-access.js';
import { leasedStore } from './leased-store.js';
import { recoverRoot } from './recover-root.js';
import type { OpContext } from './ops/context.js';
import type { WorkerRef } from './refs.js';
import type { BuildStore } from './store.js';
import { resolveOp, snapshotResultCache } from './worker.js';
import { fileExplanationStore } from './explanations.js';
import { SessionRegistry, type BuildSession } from './sessions.js';

export interface EngineOptions {
  /** The tbuild root (resolved by the CLI or service from --root / TBUILD_ROOT). */
  readonly root: string;
  readonly logger?: Logger;
  /** How many steps use the CPU at once (idle RUN steps lend their slot); default: the number of CPUs. */
  readonly maxParallelism?: number;
  /** .dockerignore matching, from the frontend (the worker does not own those rules). */
  readonly excluder: (patterns: readonly string[]) => (path: string) => boolean;
  /** Replaces the sandbox (tests inject a fake executor). */
  readonly executor?: Executor;
  /** How to reach registries; without it only images of the local store can be used. */
  readonly registry?: RegistrySettings;
  /** A test seam that fails chosen filesystem writes (core/faults.ts); unset in normal use. */
  readonly faults?: WriteFaults;
}

/**
 * The layers of one build's image, made while its steps run (LayerPrefetcher);
 * close it when the build ends.
 */
export interface LayersAhead {
  /** Settles when a layer made ahead is done; export passes it as `madeAhead`. */
  ready(snapshot: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * What builds run on, opened on a root: the store, the solver bound to the
 * worker's ops, threads. Builds share it (and the work they have in common);
 * what belongs to one build travels in its session (`attachSession`).
 */
export interface Engine {
  readonly store: BuildStore;
  readonly pool: ThreadPool;
  readonly solver: Solver<WorkerRef>;
  /**
   * A base image's normalised name and config, for the frontend's FROM: from the
   * local store, else the registry; `pull` (`--pull`) asks the registry what the
   * tag names now even when the image is stored.
   */
  resolveImage(
    ref: string,
    options: { readonly pull: boolean; readonly signal: AbortSignal },
  ): Promise<{ ref: string; config?: ImageConfig }>;
  /** Serves a build's local sources, secrets and ssh agents to its steps until the returned function is called. */
  attachSession(session: BuildSession): () => void;
  /** Pulls images from and pushes them to registries; undefined without registry settings. */
  readonly puller: ImagePuller | undefined;
  /** The registry client of this engine (made on first use); undefined without registry settings. */
  registryClient(): RegistryClient | undefined;
  /**
   * Makes the layers of `root`'s image with `settings` while the build runs
   * (see LayerPrefetcher): their blobs when an output needs the bytes
   * (`blobs`), else only their diffIDs; commitImage and makeImageManifest
   * then wait for them through `ready`.
   */
  makeLayersAhead(root: Vertex, settings: LayerSettings, ahead: { blobs: boolean }): LayersAhead;
  /** Saves what is worth keeping (the context stat cache) and stops the threads. */
  close(): Promise<void>;
}

export async function openEngine(options: EngineOptions): Promise<Engine> {
  const logger = options.logger ?? noopLogger;
  const opened = await openStore({
    root: options.root,
    logger,
    // One native call per directory when a commit or a check walks a snapshot.
    listDirectory: (path) => nativeFs.scanDirectory(path).entries(),
    ...(options.faults === undefined ? {} : { faults: options.faults }),
  });
  await recoverRoot(opened, { signal: neverAborted, logger });
  // Everything this engine touches is leased until close(), so a concurrent prune keeps it.
  const lease = await opened.leases.create({ signal: neverAborted });
  const store = leasedStore(opened, lease, { logger });
  const stateDir = join(store.layout.root, 'v1', 'run');
  const cacheMountDir = join(store.layout.root, 'v1', 'cache-mounts');
  await mkdir(stateDir, { recursive: true });
  await mkdir(cacheMountDir, { recursive: true });
  const statCache = await StatCache.open(join(store.layout.root, 'v1', 'contenthash'));
  const pool = createThreadPool();
  // One registry client per engine, made on first use: a build on local images never connects.
  let client: RegistryClient | undefined;
  const registry = options.registry;
  const clientFor = (settings: RegistrySettings): RegistryClient =>
    (client ??= createRegistryClient(settings, logger.child({ component: 'registry' })));
  const registryClient = (): RegistryClient | undefined =>
    registry === undefined ? undefined : clientFor(registry);
  const puller =
    registry === undefined ? undefined : new ImagePuller(store, () => clientFor(registry), logger);
  // One per running build that exports an image; every step's events reach each.
  const prefetchers = new Set<LayerPrefetcher>();
  const sessions = new SessionRegistry();
  const context: OpContext = {
    store,
    executor: options.executor ?? new SandboxExecutor({ stateDir, logger }),
    pool,
    statCache,
    listings: new ListingMemo(),
    logger,
    sessions,
    stateDir,
    cacheMountDir,
    excluder: options.excluder,
    ...(puller === undefined ? {} : { puller }),
    starting: (vertex) => {
      for (const prefetcher of prefetchers) prefetcher.starting(vertex);
    },
    idle: () => {
      for (const prefetcher of prefetchers) prefetcher.idle();
    },
    committed: (vertex, snapshot) => {
      for (const prefetcher of prefetchers) prefetcher.committed(vertex, snapshot);
    },
  };
  const solver = new Solver<WorkerRef>({
    resolveOp: resolveOp(context),
    cache: snapshotResultCache(context),
    explanations: fileExplanationStore(store),
    logger,
    ...(options.maxParallelism === undefined ? {} : { maxParallelism: options.maxParallelism }),
  });
  return {
    store,
    pool,
    solver,
    puller,
    registryClient,
    async resolveImage(ref, { pull, signal }) {
      const local = pull ? undefined : await readLocalImage(store, ref, signal);
      const image = local ?? (await puller?.resolve(ref, signal));
      if (image === undefined) return { ref: normalizeImageName(ref) };
      return { ref: image.name, config: image.config };
    },
    attachSession(session) {
      return sessions.attach(session);
    },
    makeLayersAhead(root, settings, ahead) {
      const prefetcher = new LayerPrefetcher({
        store,
        pool,
        settings,
        blobs: ahead.blobs,
        root,
        logger,
      });
      prefetchers.add(prefetcher);
      return {
        ready: (snapshot) => prefetcher.ready(snapshot),
        close: async () => {
          prefetchers.delete(prefetcher);
          await prefetcher.close();
        },
      };
    },
    async close() {
      client?.close();
      try {
        await Promise.all([...prefetchers].map((prefetcher) => prefetcher.close()));
        // Only a cache of context hashes: failing to save it (a full disk) costs a re-hash
        // next time, and must not replace the build's own error.
        await statCache.save().catch((error: unknown) => {
          logger.warn('could not save the context stat cache', { error: String(error) });
        });
        await pool.close();
      } finally {
        // The last process using the default network takes its nftables table down.
        await context.executor.close?.().catch((error: unknown) => {
          logger.warn('could not take the default network down', { error: String(error) });
        });
        await lease.release();
      }
    },
  };
}
