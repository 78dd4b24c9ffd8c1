/**
 * runtime: the Executor interface and the native sandbox that runs RUN steps. Imports core only.
 * Not written yet: see the open issues.
 */
export {};
