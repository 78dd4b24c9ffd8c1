/**
 * solver: the IR (ir/) and the generic scheduler that runs it with persistent
 * cache keys, shared in-flight work, bounded parallelism and cancellation.
 * Imports core only; never sees files, processes or HTTP.
 */
export * from './ir/index.js';
export { CACHE_KEY_ENCODING, isStaleResult, Solver, type SolverOptions } from './solver.js';
export { Semaphore, type Permit } from './semaphore.js';
export { SharedTasks } from './shared-task.js';
export {
  explainMiss,
  FILES_LISTED,
  type InputNow,
  type MissExplanation,
} from './explain/compare.js';
export { changedPaths } from './explain/files.js';
export type { ExplainOptions } from './explain/explainer.js';
export {
  EXPLANATION_VERSION,
  ImportedExplanations,
  isStepExplanation,
  type ExplainedInput,
  type ExplanationStore,
  type FileDigests,
  type StepExplanation,
} from './explain/record.js';
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
