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
