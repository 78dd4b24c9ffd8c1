/**
 * What the worker's ops produce and consume (the solver's result type).
 *
 * - `snapshot`: a committed snapshot and, through its parents, a whole
 *   filesystem; `snapshot` undefined is the empty filesystem (`scratch`).
 * - `local`: a directory of the client, used in place (the build context).
 *   Never cached by key: what reads it keys on the content it reads.
 */
export type WorkerRef = SnapshotRef | LocalRef;

export interface SnapshotRef {
  readonly kind: 'snapshot';
  readonly snapshot: string | undefined;
}

export interface LocalRef {
  readonly kind: 'local';
  readonly dir: string;
  /** .dockerignore patterns: paths the build may not read. */
  readonly excludePatterns: readonly string[];
}

export const SCRATCH: SnapshotRef = { kind: 'snapshot', snapshot: undefined };

export function snapshotRef(snapshot: string | undefined): SnapshotRef {
  return { kind: 'snapshot', snapshot };
}
