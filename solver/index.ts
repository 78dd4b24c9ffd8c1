/**
 * solver: the IR (ir/) and, later, the scheduler that runs it with caching.
 * Generic: imports core only; never sees files, processes or HTTP.
 */
export * from './ir/index.js';
