import type { TreeSummary } from './tree-digest.js';

/**
 * Snapshots after containerd's snapshotter vocabulary, in overlay form:
 *
 * - An **active** snapshot is being written: an upperdir and a workdir for one
 *   overlay mount over its parent chain (a RUN, a COPY). Only its creator uses it.
 * - **commit** turns it into a **committed** snapshot: immutable, usable as a
 *   parent, identified by a short id. Commit renames the upperdir into place,
 *   then writes a metadata record that doubles as the commit marker: a
 *   directory without one is half-committed and is never used.
 * - A committed snapshot's **chain** is itself, its parent, its parent's parent…;
 *   an overlay mount stacks the chain as lowerdirs, top first.
 */
export interface CommittedSnapshot {
  readonly kind: 'committed';
  readonly id: string;
  readonly parent?: string;
  /** Layers in the chain including this one (1 for a base layer). */
  readonly depth: number;
  readonly createdAt: number;
  readonly tree: TreeSummary;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ActiveSnapshot {
  readonly kind: 'active';
  readonly id: string;
  readonly parent?: string;
  /** The overlay upperdir: the layer's diff is written here. */
  readonly upperdir: string;
  /** The overlay workdir (same filesystem as upperdir, empty). */
  readonly workdir: string;
  /** Absolute lowerdirs, top first; empty for a snapshot without a parent. */
  readonly lowerdirs: readonly string[];
  readonly mount: OverlayMount;
}

/**
 * An overlay mount that fits the kernel's one-page limit on mount options:
 * the lowerdirs are relative to `cwd` (the snapshot directory), so a mount
 * helper chdirs there first, as containerd does. Without a parent there are no
 * lowerdirs and the upperdir is used as a plain bind mount instead.
 */
export interface OverlayMount {
  readonly cwd: string;
  /** `lowerdir=…,upperdir=…,workdir=…` with relative lowerdirs; undefined without a parent. */
  readonly options?: string;
}

/** Overlayfs stacks at most 500 lower layers. */
export const MAX_CHAIN_DEPTH = 500;
