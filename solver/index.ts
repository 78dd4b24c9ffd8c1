/**
 * solver: the IR (ir/) and the generic scheduler that runs it with persistent
 * cache keys, shared in-flight work, bounded parallelism and cancellation.
 * Imports core only; never sees files, processes or HTTP.
 */
export * from './ir/index.js';
export { CACHE_KEY_ENCODING, isStaleResult, Solver, type SolverOptions } from './solver.js';
export { Semaphore, type Permit } from './semaphore.js';
export { SharedTasks } from './shared-task.js';
export type {
  CacheMap,
  ExecContext,
  FallbackCache,
  InputKeySpec,
  JobContext,
  OpResolver,
  ParallelismSlot,
  ResultCache,
  SolveOptions,
  SolverOp,
} from './types.js';
