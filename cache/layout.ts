import { join } from 'node:path';
import { digestHex, type Digest } from '../core/index.js';

/**
 * Where everything lives under a tbuild root. One function so the tests, the
 * GC and docs/dev/storage.md agree. Every directory sits on the root's
 * filesystem, so a rename between any two of them is atomic.
 *
 * The layout version is part of the path (`v1`): a format change gets a new
 * directory beside the old one rather than a migration in place (as cacache does).
 */
export interface StoreLayout {
  readonly root: string;
  /** Temp files of every writer: `<pid>-<threadId>-<random>`; renamed into place when complete. */
  readonly tmp: string;
  readonly blobs: string;
  readonly snapshots: string;
  readonly snapshotMeta: string;
  readonly snapshotActive: string;
  readonly snapshotTrash: string;
  readonly records: string;
  readonly images: string;
  readonly leases: string;
  readonly locks: string;
}

export function storeLayout(root: string): StoreLayout {
  const base = join(root, 'v1');
  return {
    root,
    tmp: join(base, 'tmp'),
    blobs: join(base, 'blobs', 'sha256'),
    // Short on purpose: overlay lowerdir lists are limited to one page.
    snapshots: join(base, 's'),
    snapshotMeta: join(base, 's', '_meta'),
    snapshotActive: join(base, 's', '_active'),
    snapshotTrash: join(base, 's', '_trash'),
    records: join(base, 'index', 'keys'),
    images: join(base, 'index', 'images'),
    leases: join(base, 'leases'),
    locks: join(base, 'locks'),
  };
}

export function blobPath(layout: StoreLayout, digest: Digest): string {
  return join(layout.blobs, digestHex(digest));
}
