import type { Readable } from 'node:stream';
import type { ProgressSink } from '../../core/index.js';
import type { EventListener } from './build-events.js';
import type { ListOptions, SubmitRequest } from './build-manager.js';
import type { BuildRecord } from './build-record.js';

/** A build's status lines numbered from 1: replayed after `after`, then followed live. */
export interface EventFeed {
  /** Returns the unsubscribe. */
  subscribe(after: number, listener: EventListener): () => void;
}

/**
 * The service's builds, as every surface (the /v1 API, the Docker API, the
 * web view) uses them. Two implementations: BuildManager (the embedded queue,
 * records under this node's root) and ClusterBuilds (`--queue`: a queue and
 * records in Redis shared by several nodes, docs/service.md).
 */
export interface Builds {
  readonly stopping: boolean;
  newId(): string;
  /** Queues a build; throws TB_SERVICE_QUEUE_FULL or TB_SERVICE_STOPPING without recording it. */
  submit(request: SubmitRequest): Promise<BuildRecord>;
  /** Throws TB_SERVICE_NOT_FOUND for an unknown id. */
  get(id: string): Promise<BuildRecord>;
  /** Newest first, `limit` at a time; `next` is the cursor of the following page. */
  list(options: ListOptions): Promise<{ builds: BuildRecord[]; next?: string }>;
  /** The build's recorded progress: every status so far, then live ones until it ends. */
  events(id: string): Promise<EventFeed>;
  /** The build's plain log as written so far, whole. */
  log(id: string): Promise<Readable | Buffer>;
  /**
   * Follows a build's progress events as they happen (the Docker API renders
   * them); returns the unsubscribe and a promise that settles when it ends.
   */
  watch(
    id: string,
    sink: ProgressSink,
  ): { readonly stop: () => void; readonly done: Promise<void> };
  /** Cancels a queued or running build; a finished one is left as it is. */
  cancel(id: string): Promise<BuildRecord>;
  /** Stops taking builds, lets running ones finish for up to `graceMs`, then cancels the rest. */
  stop(graceMs: number): Promise<void>;
}
