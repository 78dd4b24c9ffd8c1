import type { Digest, Logger, ProgressSink } from '../core/index.js';
import type { ExplainOptions } from './explain/explainer.js';
import type { FileDigests } from './explain/record.js';
import type { Vertex } from './ir/index.js';

/**
 * The contract between the generic solver and whoever implements ops (the
 * worker). The solver knows vertices, keys and results; it never sees files,
 * processes or HTTP. `R` is the worker's result type (e.g. a snapshot ref).
 */

/** What every call into an op receives: cancellation, progress and a logger. */
export interface JobContext {
  readonly signal: AbortSignal;
  /** Progress for this vertex; the solver fans it out to every build waiting on it. */
  readonly progress: ProgressSink;
  readonly logger: Logger;
}

/**
 * How an op's persistent cache key is made (BuildKit's CacheMap).
 *
 * The key of a vertex is the digest of `digest` (the op's definition with
 * volatile fields removed) together with, per input, either that input's own
 * cache key or, when `contentChecksum` is given, a checksum of the part of the
 * input's result the op reads (COPY sources, bind-mounted paths). Content
 * checksums need the input's result, so they are computed only when asked for.
 */
export interface CacheMap<R> {
  readonly digest: Digest;
  /** One entry per vertex input, in order. */
  readonly inputs: readonly InputKeySpec<R>[];
  /** False for results that must never be reused by key (a local context sync). */
  readonly cacheable: boolean;
  /**
   * Where the result comes from outside the build, when the key does not say it
   * (a base image's ID, its config digest): shown when a step misses because it changed.
   */
  readonly origin?: string;
}

export interface InputKeySpec<R> {
  readonly contentChecksum?: (input: R, job: JobContext) => Promise<Digest>;
  /**
   * With contentChecksum: the checksums of what the op reads, path by path and
   * bounded, so a miss can name the files that changed. Asked for only when the
   * step runs (solver/explain/).
   */
  readonly files?: (input: R, job: JobContext) => Promise<FileDigests>;
}

/**
 * The running op's slot of the solver's parallelism bound. An op that stops
 * using the CPU (a RUN whose processes sleep or wait on I/O) lends it so
 * another step can start, and reclaims it before it uses the CPU again:
 * reclaiming waits for a free slot, ahead of steps not yet started, so no more
 * than the limit ever hold one. Both do nothing in the wrong state and after
 * the op ends.
 */
export interface ParallelismSlot {
  lend(): void;
  /** Resolves once the slot is held again; rejects with TB_CANCELED if `signal` aborts first. */
  reclaim(signal: AbortSignal): Promise<void>;
}

/** What exec receives: a JobContext plus the op's parallelism slot. */
export interface ExecContext extends JobContext {
  readonly slot: ParallelismSlot;
}

export interface SolverOp<R> {
  cacheMap(job: JobContext): Promise<CacheMap<R>>;
  /** Runs the op on its inputs' results. Must honour job.signal. */
  exec(inputs: readonly R[], job: ExecContext): Promise<R>;
}

/** Binds a vertex to its implementation; called once per vertex per solve. */
export type OpResolver<R> = (vertex: Vertex) => SolverOp<R>;

/**
 * Results by cache key. `load` returns undefined on a miss, and also for a
 * stored result that fails verification (the store rebuilds rather than use it).
 */
export interface ResultCache<R> {
  load(key: Digest, job: JobContext): Promise<R | undefined>;
  save(key: Digest, result: R, job: JobContext): Promise<void>;
  /**
   * Holds `key` exclusively, across every process sharing this cache, until the
   * returned function is called (and released by the system if the holder dies).
   * The solver takes it after a miss and loads again under it, so of several
   * builds missing one key at once, one runs the step and the rest get its saved
   * result. Rejects with TB_CANCELED when `job.signal` aborts while waiting.
   * Absent where nothing else shares the cache (an in-memory cache).
   */
  exclusive?(key: Digest, job: JobContext): Promise<() => Promise<void>>;
}

export interface SolveOptions {
  readonly signal: AbortSignal;
  readonly progress: ProgressSink;
  readonly logger?: Logger;
  /** Re-run every vertex even when a cached result exists (`--no-cache`). */
  readonly noCache?: boolean;
  /**
   * This build's caches beyond the engine's own (an imported remote cache),
   * asked after a local miss. A hit names where it came from (`from`), shown
   * on the CACHED step.
   */
  readonly fallbackCache?: FallbackCache<unknown>;
  /** Called with each vertex's cache key as it is computed (what a cache export names). */
  readonly onKey?: (vertex: Vertex, key: Digest) => void;
  /** Says why Dockerfile steps missed the cache (`vertex.cache-miss`); absent: no explanations. */
  readonly explain?: ExplainOptions;
}

export interface FallbackCache<R> {
  load(
    key: Digest,
    job: JobContext,
  ): Promise<{ readonly result: R; readonly from: string } | undefined>;
}
