/** worker/threads: the piscina pool and the CPU-heavy work it runs (hashing, tar, compression). */
export {
  createThreadPool,
  InlinePool,
  type TaskName,
  type ThreadPool,
  type ThreadPoolOptions,
} from './pool.js';
export {
  DEFAULT_GZIP_BLOCK_SIZE,
  gzipParallel,
  rechunk,
  type ParallelGzipOptions,
} from './gzip.js';
export { DEFAULT_SLICE_MS, TimeSlicer } from './time-slice.js';
/** The hashing the tasks run, for the rare file hashed on the calling thread. */
export { hashFile } from './tasks/hash-file.js';
