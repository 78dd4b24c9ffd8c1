import type { Digest } from './digest.js';
import type { SerializedError } from './errors.js';

/**
 * Progress events: the user's channel (the operator's is the Logger). The solver
 * emits them per vertex; the CLI renders them (tty, plain, rawjson) and the
 * service streams them. Times are milliseconds since the Unix epoch.
 */
export type ProgressEvent =
  | VertexStarted
  | VertexCached
  | VertexLog
  | VertexStatus
  | VertexCompleted
  | VertexFailed
  | VertexCanceled
  | VertexCacheMiss
  | BuildWarning;

interface VertexEventBase {
  readonly vertex: Digest;
  readonly at: number;
}

export interface VertexStarted extends VertexEventBase {
  readonly type: 'vertex.started';
  /** Display name, e.g. `[build 2/5] RUN make`. */
  readonly name: string;
  readonly inputs: readonly Digest[];
}

export interface VertexCached extends VertexEventBase {
  readonly type: 'vertex.cached';
  readonly name: string;
  /** Where a hit outside the local store came from (an imported cache's ref); absent: local. */
  readonly from?: string;
}

export interface VertexLog extends VertexEventBase {
  readonly type: 'vertex.log';
  readonly stream: 'stdout' | 'stderr';
  readonly data: Uint8Array;
}

/** A named sub-task of a vertex with a byte or item count, e.g. a layer download. */
export interface VertexStatus extends VertexEventBase {
  readonly type: 'vertex.status';
  readonly id: string;
  readonly current: number;
  readonly total?: number;
  readonly completed: boolean;
}

export interface VertexCompleted extends VertexEventBase {
  readonly type: 'vertex.completed';
}

export interface VertexFailed extends VertexEventBase {
  readonly type: 'vertex.error';
  readonly error: SerializedError;
}

export interface VertexCanceled extends VertexEventBase {
  readonly type: 'vertex.canceled';
}

/**
 * Why a step ran although an earlier build (a local record or an imported
 * cache) had a result for the same step of the same Dockerfile: sent after its
 * `vertex.started`. Only names, digests and context paths, never a value of a
 * build arg or ENV (secrets are never part of a key at all).
 */
export interface VertexCacheMiss extends VertexEventBase {
  readonly type: 'vertex.cache-miss';
  /** What changed, the first causes only: a step below that ran again is a `parent`. */
  readonly reasons: readonly CacheMissReason[];
  /** Every component of the key, compared (what `--explain` prints). */
  readonly components: readonly KeyComponentComparison[];
}

export type CacheMissReason =
  /** The instruction as written changed. */
  | { readonly kind: 'instruction'; readonly before: string; readonly after: string }
  /** Build args or ENV variables the step sees that were changed, added or removed. */
  | { readonly kind: 'arg' | 'env'; readonly names: readonly string[] }
  /** The base image behind FROM is another one (image IDs: config digests). */
  | { readonly kind: 'base-image'; readonly before?: string; readonly after?: string }
  /**
   * Files the step reads from a context changed, were added or removed: the
   * first paths (at most 20) and how many in all.
   */
  | { readonly kind: 'files'; readonly paths: readonly string[]; readonly count: number }
  /** An input step's key changed; `ran` when it ran again in this build. */
  | {
      readonly kind: 'parent';
      readonly vertex: Digest;
      readonly name: string;
      readonly ran: boolean;
    }
  /** The step's definition changed in what the Dockerfile does not show (build flags, tbuild's encoding). */
  | { readonly kind: 'settings' }
  /** The key is the one recorded, but its result is no longer stored (pruned, or found damaged). */
  | { readonly kind: 'evicted' };

/** One component a key is made of, in the earlier build and now. */
export interface KeyComponentComparison {
  /** `instruction`, `ARG NAME`, `ENV NAME`, `base image`, `input 0`, `files of input 1`, `settings`. */
  readonly component: string;
  readonly same: boolean;
  /** Shown only for what is no secret and short: instruction text, digests, counts. */
  readonly before?: string;
  readonly after?: string;
}

export interface BuildWarning {
  readonly type: 'warning';
  readonly at: number;
  readonly message: string;
  readonly vertex?: Digest;
  /** Set for a Dockerfile build check: the displays list these after the build, as buildx. */
  readonly check?: CheckWarningInfo;
}

/** What a build-check warning adds (BuildKit's VertexWarning detail, url and range). */
export interface CheckWarningInfo {
  readonly rule: string;
  readonly description: string;
  readonly url: string;
  readonly file: string;
  readonly startLine?: number;
  readonly endLine?: number;
}

/** Where progress goes. Implementations must not throw and must not block. */
export type ProgressSink = (event: ProgressEvent) => void;

export const discardProgress: ProgressSink = () => undefined;
