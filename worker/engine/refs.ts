import type { Readable } from 'node:stream';
import type { Descriptor, Digest } from '../../core/index.js';
/**
 * What the worker's ops produce and consume (the solver's result type).
 *
 * - `snapshot`: a committed snapshot and, through its parents, a whole
 *   filesystem; `snapshot` undefined is the empty filesystem (`scratch`).
 * - `local`: a directory of the client, used in place (the build context).
 *   Never cached by key: what reads it keys on the content it reads.
 * - `remote`: a hit in an imported remote cache, known only by its layers'
 *   descriptors and diffIDs. It becomes local snapshots only when something
 *   needs its files (remote-layers.ts); an image output may reference the
 *   blobs where they are.
 */
export type WorkerRef = SnapshotRef | LocalRef | RemoteRef;

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

/** One layer of a remote result: its blob where it lives, and the digest of its tar. */
export interface RemoteLayer {
  readonly descriptor: Descriptor;
  readonly diffId: Digest;
}

/** Where a remote result's blobs are read from (an imported cache). */
export interface RemoteBlobSource {
  /** Shown on the steps it serves: the cache's ref or directory. */
  readonly name: string;
  /** The registry repository holding the blobs, for a cross-repository mount on push. */
  readonly repository?: { readonly registry: string; readonly repository: string };
  /** The blob's bytes as stored; the reader verifies them against the descriptor. */
  open(descriptor: Descriptor, signal: AbortSignal): Readable;
  /** A blob of this source failed (missing, wrong digest): results that use it stop hitting. */
  discard(blob: Digest): void;
}

export interface RemoteRef {
  readonly kind: 'remote';
  /** Base first, as a manifest lists them. */
  readonly layers: readonly RemoteLayer[];
  readonly source: RemoteBlobSource;
}
