import type { Digest, Logger } from '../../../core/index.js';
import type { Executor } from '../../../runtime/index.js';
import type { ThreadPool } from '../../threads/index.js';
import type { StatCache } from '../../contenthash/index.js';
import type { BuildStore } from '../store.js';
import type { ImagePuller } from '../pull.js';
import type { ListingMemo } from '../listing-memo.js';
import type { SessionRegistry } from '../sessions.js';

/** What every op implementation of one build shares. */
export interface OpContext {
  readonly store: BuildStore;
  readonly executor: Executor;
  readonly pool: ThreadPool;
  readonly statCache: StatCache;
  /** Context listings the checksum of a COPY's sources made, for the copy (ListingMemo). */
  readonly listings: ListingMemo;
  readonly logger: Logger;
  /** The running builds' local sources, secrets and ssh agents, by session id. */
  readonly sessions: SessionRegistry;
  /** Directory for per-run state (hosts, resolv.conf, mount points). */
  readonly stateDir: string;
  /** Persistent cache-mount directories live here, by id. */
  readonly cacheMountDir: string;
  /**
   * Turns .dockerignore-style patterns into a predicate over root-relative
   * paths. Injected (the pattern rules belong to the frontend) so the worker
   * matches exactly what the frontend parsed.
   */
  readonly excluder: (patterns: readonly string[]) => (path: string) => boolean;
  /** Fetches images and layers missing from the store; absent when no registry may be used. */
  readonly puller?: ImagePuller;
  /** A step that makes a snapshot starts running (not cached): its layer will be made. */
  readonly starting?: (vertex: Digest) => void;
  /** A running step went idle and lent its parallelism slot: the CPU has room. */
  readonly idle?: () => void;
  /** A step committed a new snapshot (layers of the image to export are made ahead from it). */
  readonly committed?: (vertex: Digest, snapshot: string) => void;
}
