import { availableParallelism } from 'node:os';
import {
  canonicalDigest,
  isTbuildError,
  noopLogger,
  TbuildError,
  toTbuildError,
  type Digest,
  type Logger,
} from '../core/index.js';
import {
  cacheMissEvent,
  MissExplainer,
  type ExplainedRun,
  type KeyParts,
} from './explain/explainer.js';
import type { ExplanationStore } from './explain/record.js';
import type { Vertex } from './ir/index.js';
import { ProgressFanout } from './progress-fanout.js';
import { Semaphore } from './semaphore.js';
import { SharedTasks } from './shared-task.js';
import type {
  CacheMap,
  JobContext,
  OpResolver,
  ResultCache,
  SolveOptions,
  SolverOp,
} from './types.js';

/** Bumped when the composition of cache keys changes, so old keys never match. */
export const CACHE_KEY_ENCODING = 'tbuild.cachekey.v1';

export interface SolverOptions<R> {
  readonly resolveOp: OpResolver<R>;
  readonly cache: ResultCache<R>;
  /**
   * How many steps hold a slot at once; defaults to the number of CPUs. An op
   * that goes idle (a RUN sleeping or waiting on I/O) lends its slot to the
   * next step and, before it uses the CPU again, waits to get one back, ahead
   * of steps not started (ExecContext.slot). docs/config.md says what this
   * promises of a RUN's processes.
   */
  readonly maxParallelism?: number;
  readonly logger?: Logger;
  /** Where explanations of step keys are kept, to say why a step missed (solver/explain/). */
  readonly explanations?: ExplanationStore;
}

/**
 * Runs IR graphs. Per vertex: cache map → cache key (input keys, or content
 * checksums of the inputs' results) → cached result, or the inputs' results and
 * then exec. Only what the requested root needs runs. Work in flight is shared
 * by vertex digest across concurrent solves on one Solver, and cancelled only
 * when every build waiting on it has cancelled.
 */
export class Solver<R> {
  readonly #options: SolverOptions<R>;
  readonly #semaphore: Semaphore;
  readonly #keys = new SharedTasks<Digest>();
  readonly #results = new SharedTasks<R>();
  readonly #fanout = new ProgressFanout();

  constructor(options: SolverOptions<R>) {
    this.#options = options;
    this.#semaphore = new Semaphore(options.maxParallelism ?? availableParallelism());
  }

  /**
   * Runs `root`. A result found damaged while in use (a cached snapshot that
   * changed on disk: TB_SNAPSHOT_CORRUPT, or gone meanwhile) has had its record
   * dropped by then, so one more solve runs the steps that made it again.
   */
  async solve(root: Vertex, options: SolveOptions): Promise<R> {
    try {
      return await this.#withBuild(root, options, (build) => build.result(root));
    } catch (error) {
      if (!isStaleResult(error) || options.signal.aborted) throw error;
      (options.logger ?? this.#options.logger ?? noopLogger).warn(
        'a cached result was damaged; solving again without it',
        { error: String(error) },
      );
      return this.#withBuild(root, options, (build) => build.result(root));
    }
  }

  /** The persistent cache key of a vertex, computing input results only where content checksums need them. */
  cacheKey(root: Vertex, options: SolveOptions): Promise<Digest> {
    return this.#withBuild(root, options, (build) => build.key(root));
  }

  async #withBuild<T>(
    root: Vertex,
    options: SolveOptions,
    use: (build: Build<R>) => Promise<T>,
  ): Promise<T> {
    const build = new Build(this.#options, options, {
      semaphore: this.#semaphore,
      keys: this.#keys,
      results: this.#results,
      fanout: this.#fanout,
      order: stepOrder(root),
    });
    try {
      return await use(build);
    } finally {
      build.close();
    }
  }
}

interface SharedState<R> {
  readonly semaphore: Semaphore;
  readonly keys: SharedTasks<Digest>;
  readonly results: SharedTasks<R>;
  readonly fanout: ProgressFanout;
  /** Each step's place in stepOrder: steps waiting for a slot start in that order. */
  readonly order: ReadonlyMap<Digest, number>;
}

/**
 * The order a build needs its steps in: inputs before the steps that use
 * them, and an op's inputs in their order (a stage's base, then what is
 * copied into it). Found depth first, so a step deep in a chain, which the
 * rest waits on longest, comes early; left to when they ask, the steps
 * nearest the root would take the slots first (the last stage a final stage
 * copies from would start first, the one it copies first start last).
 */
export function stepOrder(root: Vertex): Map<Digest, number> {
  const order = new Map<Digest, number>();
  const entered = new Set<Digest>([root.digest]);
  // An explicit stack: a long chain of steps must not exhaust the call stack.
  const stack: [Vertex, number][] = [[root, 0]];
  for (let top = stack.at(-1); top !== undefined; top = stack.at(-1)) {
    const [vertex, next] = top;
    const input = vertex.inputs[next];
    if (input === undefined) {
      stack.pop();
      order.set(vertex.digest, order.size);
      continue;
    }
    top[1] = next + 1;
    if (!entered.has(input.digest)) {
      entered.add(input.digest);
      stack.push([input, 0]);
    }
  }
  return order;
}

/** One solve: memoises per vertex for its duration and holds its progress subscriptions. */
class Build<R> {
  readonly #ops = new Map<Digest, SolverOp<R>>();
  readonly #cacheMaps = new Map<Digest, Promise<CacheMap<R>>>();
  readonly #keys = new Map<Digest, Promise<Digest>>();
  readonly #results = new Map<Digest, Promise<R>>();
  readonly #watched = new Set<Digest>();
  /** What each key this build computed was made of, for explaining a miss. */
  readonly #parts = new Map<Digest, KeyParts>();
  /** Vertices this build ran (not found in the cache): a miss below them names them as its cause. */
  readonly #ran = new Set<Digest>();
  readonly #explainer: MissExplainer;
  readonly #logger: Logger;
  readonly #sharingPrefix: string;
  private readonly solverOptions: SolverOptions<R>;
  private readonly options: SolveOptions;
  private readonly shared: SharedState<R>;

  constructor(solverOptions: SolverOptions<R>, options: SolveOptions, shared: SharedState<R>) {
    this.solverOptions = solverOptions;
    this.options = options;
    this.shared = shared;
    this.#logger = options.logger ?? solverOptions.logger ?? noopLogger;
    this.#explainer = new MissExplainer(solverOptions.explanations, options.explain, this.#logger);
    // Builds that ignore the cache must not join work of builds that use it, and the reverse.
    this.#sharingPrefix = options.noCache === true ? 'nocache:' : 'cache:';
  }

  close(): void {
    for (const digest of this.#watched) this.shared.fanout.unwatch(digest, this.options.progress);
    this.#watched.clear();
  }

  key(vertex: Vertex): Promise<Digest> {
    return memo(this.#keys, vertex.digest, async () => {
      const key = await this.shared.keys.run(
        this.#sharingPrefix + vertex.digest,
        this.options.signal,
        (signal) => this.#computeKey(vertex, signal),
      );
      // Per build, even when another build computed it: each build exports its own keys.
      this.options.onKey?.(vertex, key);
      return key;
    });
  }

  result(vertex: Vertex): Promise<R> {
    return memo(this.#results, vertex.digest, () => {
      this.#watch(vertex.digest);
      return this.shared.results.run(
        this.#sharingPrefix + vertex.digest,
        this.options.signal,
        (signal) => this.#computeResult(vertex, signal),
      );
    });
  }

  #watch(digest: Digest): void {
    if (this.#watched.has(digest)) return;
    this.#watched.add(digest);
    this.shared.fanout.watch(digest, this.options.progress);
  }

  #job(vertex: Vertex, signal: AbortSignal): JobContext {
    return {
      signal,
      progress: this.shared.fanout.sinkFor(vertex.digest),
      logger: this.#logger.child({ vertex: vertex.digest }),
    };
  }

  #op(vertex: Vertex): SolverOp<R> {
    let op = this.#ops.get(vertex.digest);
    if (op === undefined) {
      op = this.solverOptions.resolveOp(vertex);
      this.#ops.set(vertex.digest, op);
    }
    return op;
  }

  #cacheMap(vertex: Vertex, signal: AbortSignal): Promise<CacheMap<R>> {
    return memo(this.#cacheMaps, vertex.digest, () =>
      this.#op(vertex).cacheMap(this.#job(vertex, signal)),
    );
  }

  async #computeKey(vertex: Vertex, signal: AbortSignal): Promise<Digest> {
    const cacheMap = await this.#cacheMap(vertex, signal);
    const inputs = await Promise.all(
      vertex.inputs.map(async (input, index) => {
        const checksum = cacheMap.inputs[index]?.contentChecksum;
        if (checksum === undefined) return { key: await this.key(input) };
        const inputResult = await this.result(input);
        return { content: await checksum(inputResult, this.#job(vertex, signal)) };
      }),
    );
    this.#parts.set(vertex.digest, { op: cacheMap.digest, inputs });
    return canonicalDigest({ encoding: CACHE_KEY_ENCODING, op: cacheMap.digest, inputs });
  }

  /**
   * A hit needs nothing below it, but its key was made from theirs: the steps
   * below whose keys this build computed and whose results nobody has asked
   * for are shown as CACHED, inputs first, as BuildKit shows a cached chain.
   */
  #reportBelowAsCached(
    vertex: Vertex,
    signal: AbortSignal,
    seen: Set<Digest>,
    from?: string,
  ): void {
    for (const input of vertex.inputs) {
      if (seen.has(input.digest)) continue;
      seen.add(input.digest);
      if (this.#results.has(input.digest) || !this.#keys.has(input.digest)) continue;
      this.#reportBelowAsCached(input, signal, seen, from);
      this.#watch(input.digest);
      this.#job(input, signal).progress({
        type: 'vertex.cached',
        vertex: input.digest,
        name: input.meta.name,
        ...(from === undefined ? {} : { from }),
        at: Date.now(),
      });
    }
  }

  /**
   * A hit and the steps below it that #reportBelowAsCached showed as cached,
   * with their keys: the results each of those steps now has.
   */
  async #cachedChain(vertex: Vertex, key: Digest): Promise<{ vertex: Vertex; key: Digest }[]> {
    const chain = [{ vertex, key }];
    const seen = new Set<Digest>([vertex.digest]);
    // An explicit stack: a chain of thousands of cached steps must not exhaust the call stack.
    const stack = [...vertex.inputs];
    for (let input = stack.pop(); input !== undefined; input = stack.pop()) {
      if (seen.has(input.digest)) continue;
      seen.add(input.digest);
      if (this.#results.has(input.digest) || !this.#keys.has(input.digest)) continue;
      chain.push({ vertex: input, key: await this.key(input) });
      stack.push(...input.inputs);
    }
    return chain;
  }

  async #computeResult(vertex: Vertex, signal: AbortSignal): Promise<R> {
    const job = this.#job(vertex, signal);
    const name = vertex.meta.name;
    const cacheMap = await this.#cacheMap(vertex, signal);
    const useCache =
      cacheMap.cacheable && this.options.noCache !== true && vertex.meta.ignoreCache !== true;
    const key = cacheMap.cacheable ? await this.key(vertex) : undefined;
    if (useCache && key !== undefined) {
      const cached = await this.solverOptions.cache.load(key, job);
      if (cached !== undefined) {
        this.#reportBelowAsCached(vertex, signal, new Set());
        job.progress({ type: 'vertex.cached', vertex: vertex.digest, name, at: Date.now() });
        await this.#explainer.hits(await this.#cachedChain(vertex, key), job);
        return cached;
      }
      // The fallback's results are the worker's too (SolveOptions holds it untyped).
      const found = (await this.options.fallbackCache?.load(key, job)) as
        { readonly result: R; readonly from: string } | undefined;
      if (found !== undefined) {
        this.#reportBelowAsCached(vertex, signal, new Set(), found.from);
        job.progress({
          type: 'vertex.cached',
          vertex: vertex.digest,
          name,
          from: found.from,
          at: Date.now(),
        });
        return found.result;
      }
    }
    const inputs = await Promise.all(vertex.inputs.map((input) => this.result(input)));
    const parts = this.#parts.get(vertex.digest);
    const explained =
      key === undefined || parts === undefined
        ? undefined
        : await this.#explainer.explain({
            vertex,
            key,
            parts,
            cacheMap,
            inputs,
            inputCacheMap: (input) => this.#cacheMap(input, signal),
            ran: (input) => this.#ran.has(input.digest),
            compare: useCache,
            job,
          });
    // The key's lock is taken only here, with every input's result in hand and no
    // slot held: a build holding a key then waits only for a slot, and a slot's
    // holder only for its own exec, never for a key. So no build, in this process
    // or another, can wait in a circle (keys are never nested across steps).
    const unlock =
      useCache && key !== undefined
        ? await this.solverOptions.cache.exclusive?.(key, job)
        : undefined;
    try {
      if (unlock !== undefined && key !== undefined) {
        // Another process may have run the step while this one waited for the lock.
        const cached = await this.solverOptions.cache.load(key, job);
        if (cached !== undefined) {
          job.progress({ type: 'vertex.cached', vertex: vertex.digest, name, at: Date.now() });
          return cached;
        }
      }
      return await this.#execute(vertex, inputs, key, job, signal, explained);
    } finally {
      await unlock?.();
    }
  }

  /** Runs the op holding a parallelism slot, then saves its result under `key`. */
  async #execute(
    vertex: Vertex,
    inputs: readonly R[],
    key: Digest | undefined,
    job: JobContext,
    signal: AbortSignal,
    explained?: ExplainedRun,
  ): Promise<R> {
    const name = vertex.meta.name;
    const permit = await this.shared.semaphore.acquire(
      signal,
      this.shared.order.get(vertex.digest) ?? Number.MAX_SAFE_INTEGER,
    );
    job.progress({
      type: 'vertex.started',
      vertex: vertex.digest,
      name,
      inputs: vertex.inputs.map((input) => input.digest),
      at: Date.now(),
    });
    this.#ran.add(vertex.digest);
    const missed = cacheMissEvent(vertex.digest, explained);
    if (missed !== undefined) job.progress(missed);
    let result: R;
    try {
      // Only lend and reclaim: the solver releases the permit itself when exec settles.
      const slot = {
        lend: () => {
          permit.lend();
        },
        reclaim: (reclaimSignal: AbortSignal) => permit.reclaim(reclaimSignal),
      };
      result = await this.#op(vertex).exec(inputs, { ...job, slot });
    } catch (error) {
      const failure = withVertex(toTbuildError(error), vertex.digest);
      if (failure.code === 'TB_CANCELED' || signal.aborted) {
        job.progress({ type: 'vertex.canceled', vertex: vertex.digest, at: Date.now() });
      } else {
        job.progress({
          type: 'vertex.error',
          vertex: vertex.digest,
          error: failure.toJSON(),
          at: Date.now(),
        });
      }
      throw failure;
    } finally {
      permit.release();
    }
    if (key !== undefined) await this.solverOptions.cache.save(key, result, job);
    if (explained !== undefined) await this.#explainer.saved(explained, job);
    job.progress({ type: 'vertex.completed', vertex: vertex.digest, at: Date.now() });
    return result;
  }
}

/** A cached result found damaged or gone while in use: solving again rebuilds it. */
export function isStaleResult(error: unknown): boolean {
  return (
    isTbuildError(error) &&
    (error.code === 'TB_SNAPSHOT_CORRUPT' || error.code === 'TB_SNAPSHOT_NOT_FOUND')
  );
}

function memo<T>(
  map: Map<Digest, Promise<T>>,
  digest: Digest,
  create: () => Promise<T>,
): Promise<T> {
  let promise = map.get(digest);
  if (promise === undefined) {
    promise = create();
    map.set(digest, promise);
  }
  return promise;
}

/** Decorates a step's error with its vertex (BuildKit's VertexError), so callers can show the step's source. */
function withVertex(error: TbuildError, vertex: Digest): TbuildError {
  if (error.details?.['vertex'] !== undefined) return error;
  return new TbuildError(error.code, error.message, {
    ...(error.hint === undefined ? {} : { hint: error.hint }),
    ...(error.source === undefined ? {} : { source: error.source }),
    details: { ...error.details, vertex },
    cause: error,
  });
}
