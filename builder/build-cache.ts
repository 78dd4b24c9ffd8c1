import {
  noopLogger,
  sha256Digest,
  TbuildError,
  toTbuildError,
  type Digest,
  type ProgressSink,
} from '../core/index.js';
import { ImportedExplanations, type FallbackCache, type Vertex } from '../solver/index.js';
import {
  bytesStream,
  cacheMountDirOf,
  isEmptyDirectory,
  packCacheMount,
  unpackCacheMount,
  cachedVertices,
  collectExplanations,
  collectRecords,
  importCache,
  importedCacheLookup,
  inlineCacheValue,
  materializeRemote,
  writeLocalCache,
  writeRegistryCache,
  type CacheBlob,
  type CacheExportSpec,
  type CacheImportSpec,
  type Engine,
  type ImportedCache,
  type CacheMountLayer,
  type SnapshotRef,
  type WorkerRef,
} from '../worker/index.js';
import { ExportStep } from './export-progress.js';

/** How long reading one `--cache-from` may take before the build goes on without it. */
const IMPORT_TIMEOUT_MS = 60_000;

export interface BuildCacheJob {
  readonly engine: Engine;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
  readonly session: string;
  readonly cacheFrom: readonly CacheImportSpec[];
  readonly cacheTo: readonly CacheExportSpec[];
  readonly sourceDateEpoch?: number;
}

/**
 * One build's remote caches: the `--cache-from` sources read before the solve
 * (each a step; one that cannot be read is a warning and the build goes on),
 * the keys the solve computes, and the `--cache-to` exports after it.
 */
export class BuildCaches {
  readonly #job: BuildCacheJob;
  readonly #imports: ImportedCache[] = [];
  /** Each vertex's key, as the solver computed it in this build. */
  readonly #keys = new Map<Digest, { readonly vertex: Vertex; readonly key: Digest }>();
  /** The cache-miss explanations the imported caches carried, for this build's explainer. */
  readonly explanations = new ImportedExplanations();
  /** Cache mounts being filled from an imported cache, by id: each is fetched once. */
  readonly #filling = new Map<string, Promise<void>>();

  constructor(job: BuildCacheJob) {
    this.#job = job;
  }

  /** Reads every `--cache-from`; never fails the build (only a cancel ends it). */
  async importAll(): Promise<void> {
    const { engine, progress, signal, session } = this.#job;
    for (const [index, spec] of this.#job.cacheFrom.entries()) {
      const name = spec.type === 'registry' ? spec.ref : `local ${spec.src}`;
      const step = new ExportStep(
        progress,
        session,
        1000 + index,
        `importing cache manifest from ${name}`,
      );
      const bounded = AbortSignal.any([signal, AbortSignal.timeout(IMPORT_TIMEOUT_MS)]);
      try {
        const imported = await importCache(spec, {
          client: engine.registryClient(),
          signal: bounded,
        });
        this.#imports.push(imported);
        this.explanations.add(imported.explanations);
        step.complete();
      } catch (error) {
        signal.throwIfAborted();
        const reason = bounded.aborted
          ? `no answer in ${String(IMPORT_TIMEOUT_MS / 1000)} s`
          : toTbuildError(error).message;
        step.complete();
        progress({
          type: 'warning',
          message: `cache ${name} could not be imported (${reason}); building without it`,
          at: Date.now(),
        });
      }
    }
  }

  /** The solver's look-up after a local miss, when any cache was imported. */
  fallback(): FallbackCache<WorkerRef> | undefined {
    return this.#imports.length === 0 ? undefined : importedCacheLookup(this.#imports);
  }

  readonly onKey = (vertex: Vertex, key: Digest): void => {
    this.#keys.set(vertex.digest, { vertex, key });
  };

  get wantsInline(): boolean {
    return this.#job.cacheTo.some((spec) => spec.type === 'inline');
  }

  /**
   * The inline cache for the image of `root` (its own steps, min mode), made
   * with the image's layer settings so the records name the image's layers.
   */
  async inlineValue(
    root: Vertex | undefined,
    settings: {
      compression: 'gzip' | 'zstd' | 'uncompressed';
      compressionLevel?: number;
      ociMediaTypes: boolean;
    },
  ): Promise<unknown> {
    const { engine, signal } = this.#job;
    const keys = cachedVertices(root, this.#keys, 'min');
    const collected = await collectRecords(keys, {
      ...settings,
      store: engine.store,
      pool: engine.pool,
      imports: this.#imports,
      signal,
      ...(this.#job.sourceDateEpoch === undefined
        ? {}
        : { sourceDateEpoch: this.#job.sourceDateEpoch }),
    });
    const rootKey = keys[0];
    const image = rootKey === undefined ? undefined : collected.records.get(rootKey);
    if (image === undefined) return undefined;
    return inlineCacheValue(
      collected.records,
      image.map((layer) => layer.diffId),
    );
  }

  /** Writes every registry and local `--cache-to`, each a step with byte progress. */
  async exportAll(root: Vertex | undefined): Promise<void> {
    const { engine, progress, signal, session } = this.#job;
    for (const [index, spec] of this.#job.cacheTo.entries()) {
      if (spec.type === 'inline') continue;
      const name = spec.type === 'registry' ? `registry ${spec.ref}` : `local ${spec.dest}`;
      const step = new ExportStep(progress, session, 2000 + index, `exporting cache to ${name}`);
      const status = (
        id: string,
        current: number,
        total: number | undefined,
        completed: boolean,
      ): void => {
        progress({
          type: 'vertex.status',
          vertex: step.vertex,
          id,
          current,
          ...(total === undefined ? {} : { total }),
          completed,
          at: Date.now(),
        });
      };
      try {
        const collected = await step.task('preparing build cache for export', async () => {
          const records = await collectRecords(cachedVertices(root, this.#keys, spec.mode), {
            compression: spec.compression,
            ...(spec.compressionLevel === undefined
              ? {}
              : { compressionLevel: spec.compressionLevel }),
            ociMediaTypes: spec.ociMediaTypes,
            store: engine.store,
            pool: engine.pool,
            imports: this.#imports,
            signal,
            ...(this.#job.sourceDateEpoch === undefined
              ? {}
              : { sourceDateEpoch: this.#job.sourceDateEpoch }),
          });
          // Why each exported step last ran here, so an importer can explain its misses;
          // in key order, so the same cache is the same bytes (an unchanged export adds nothing).
          const explanations = await collectExplanations(
            engine.store,
            [...records.records.keys()].sort(),
          );
          if (!spec.cacheMounts) return { ...records, explanations };
          const blobs = new Map(records.blobs);
          const cacheMounts = await this.#packCacheMounts(blobs);
          return { ...records, blobs, explanations, cacheMounts };
        });
        const options = {
          imageManifest: spec.imageManifest,
          signal,
          onProgress: (digest: Digest, current: number, total: number, completed: boolean) => {
            status(`writing layer ${digest}`, current, total, completed);
          },
        };
        const client = engine.registryClient();
        const written =
          spec.type === 'registry'
            ? await writeRegistryCache(client ?? noRegistry(spec.ref), spec.ref, collected, options)
            : await writeLocalCache(spec.dest, collected, options);
        status(`writing cache manifest ${written.digest}`, 0, undefined, true);
        step.complete();
      } catch (error) {
        const failure = toTbuildError(error);
        if (signal.aborted || !spec.ignoreError) {
          step.fail(failure, signal.aborted);
          throw failure;
        }
        step.complete();
        progress({
          type: 'warning',
          message: `${failure.message} (ignored: ignore-error=true)`,
          at: Date.now(),
        });
      }
    }
  }

  /**
   * The build's cache mounts without `from` (`cache-mounts=true`), each one gzip
   * layer whose blob joins `blobs`; an empty one is left out.
   */
  async #packCacheMounts(blobs: Map<Digest, CacheBlob>): Promise<Map<string, CacheMountLayer>> {
    const { engine, signal } = this.#job;
    const ids = new Set<string>();
    for (const { vertex } of this.#keys.values()) {
      if (vertex.op.kind !== 'exec') continue;
      for (const mount of vertex.op.mounts)
        if (mount.type === 'cache' && mount.input === undefined) ids.add(mount.id);
    }
    const packed = new Map<string, CacheMountLayer>();
    for (const id of [...ids].sort()) {
      const made = await packCacheMount(cacheMountDirOf(engine.store.layout.root, id), signal);
      if (made === undefined) continue;
      packed.set(id, made.layer);
      blobs.set(made.layer.descriptor.digest, {
        descriptor: made.layer.descriptor,
        open: () => bytesStream(made.bytes),
      });
    }
    return packed;
  }

  /**
   * Fills cache mount `id`'s directory from the first imported cache that
   * carries it, when the directory is empty; called before each step that
   * mounts it, so only a mount a running step uses is fetched. A blob that
   * cannot be read is a warning and the step starts with the empty mount.
   */
  readonly fillCacheMount = (id: string, dir: string, signal: AbortSignal): Promise<void> => {
    let filling = this.#filling.get(id);
    if (filling === undefined) {
      filling = this.#fill(id, dir, signal);
      this.#filling.set(id, filling);
    }
    return filling;
  };

  async #fill(id: string, dir: string, signal: AbortSignal): Promise<void> {
    if (!(await isEmptyDirectory(dir))) return;
    for (const imported of this.#imports) {
      const found = imported.cacheMount(id);
      if (found === undefined) continue;
      try {
        await unpackCacheMount(found.open(signal), found.layer, dir, signal);
      } catch (error) {
        signal.throwIfAborted();
        this.#job.progress({
          type: 'warning',
          message: `cache mount ${id} could not be read from ${imported.name} (${toTbuildError(error).message}); the step starts without it`,
          at: Date.now(),
        });
      }
      return;
    }
  }

  /**
   * A build result from an imported cache, made local (only the final image's
   * layers are fetched). A damaged blob makes this fail as a stale result: the
   * build solves again without it.
   */
  async local(result: WorkerRef, root: Vertex | undefined): Promise<WorkerRef> {
    if (result.kind !== 'remote') return result;
    const { engine, progress, signal } = this.#job;
    const vertex = root?.digest ?? sha256Digest('tbuild.remote-result');
    const made: SnapshotRef = await materializeRemote(
      result,
      { store: engine.store, pool: engine.pool },
      { signal, progress, logger: noopLogger },
      vertex,
    );
    return made;
  }
}

function noRegistry(ref: string): never {
  throw new TbuildError(
    'TB_CACHE_EXPORT',
    `exporting cache to ${ref}: no registry access is configured`,
  );
}
