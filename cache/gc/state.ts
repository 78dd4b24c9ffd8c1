import {
  MEDIA_TYPES,
  isDigest,
  neverAborted,
  type Descriptor,
  type Digest,
} from '../../core/index.js';
import type { BlobInfo, ContentStore } from '../content/types.js';
import {
  descriptionReferences,
  IMAGE_DESCRIPTION_MEDIA_TYPE,
  parseImageDescription,
} from '../index/image-description.js';
import type { ImageRecord } from '../index/images.js';
import type { StoredRecord } from '../index/records.js';
import type { LeaseRecord } from '../leases.js';
import type { ActiveOwner } from '../snapshots/fs-snapshotter.js';
import type { CommittedSnapshot } from '../snapshots/types.js';

/** Everything GC looks at, read once per run (under the store lock). */
export interface StoreState {
  readonly blobs: ReadonlyMap<Digest, BlobInfo>;
  readonly snapshots: ReadonlyMap<string, CommittedSnapshot>;
  readonly records: readonly StoredRecord[];
  readonly images: readonly ImageRecord[];
  readonly liveLeases: readonly LeaseRecord[];
  readonly liveActive: readonly ActiveOwner[];
}

/** What a set of roots keeps. */
export interface Reachable {
  readonly blobs: Set<Digest>;
  readonly snapshots: Set<string>;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const WALKED_TYPES: ReadonlySet<string> = new Set([
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.dockerManifestList,
  IMAGE_DESCRIPTION_MEDIA_TYPE,
]);

/** What a walked blob references: blobs, and snapshots (an image description's layers). */
interface Children {
  readonly descriptors: readonly Descriptor[];
  readonly snapshots: readonly string[];
}

const NO_CHILDREN: Children = { descriptors: [], snapshots: [] };

/**
 * Follows references from roots: snapshots to their parents; manifests and
 * indexes (read from the content store, once per digest) to their config,
 * layers and manifests; image descriptions to their config, blobs and layer
 * snapshots. A child that cannot be read is not followed: what it would keep
 * is unreachable anyway.
 */
export class Marker {
  private readonly children = new Map<Digest, Children>();
  private readonly state: StoreState;
  private readonly content: ContentStore;

  constructor(state: StoreState, content: ContentStore) {
    this.state = state;
    this.content = content;
  }

  async mark(roots: {
    readonly descriptors: readonly Descriptor[];
    readonly blobs: readonly Digest[];
    readonly snapshots: readonly string[];
  }): Promise<Reachable> {
    const reachable: Reachable = { blobs: new Set(), snapshots: new Set() };
    const pending: Descriptor[] = [...roots.descriptors];
    const snapshots = [...roots.snapshots];
    const follow = (children: Children): void => {
      pending.push(...children.descriptors);
      snapshots.push(...children.snapshots);
    };
    for (const digest of roots.blobs) {
      const info = this.state.blobs.get(digest);
      reachable.blobs.add(digest);
      if (info !== undefined) follow(await this.childrenOf(digest, undefined));
    }
    while (pending.length > 0) {
      const next = pending.pop();
      if (next === undefined || reachable.blobs.has(next.digest)) continue;
      reachable.blobs.add(next.digest);
      if (WALKED_TYPES.has(next.mediaType))
        follow(await this.childrenOf(next.digest, next.mediaType));
    }
    for (const id of snapshots) {
      let next: string | undefined = id;
      while (next !== undefined && !reachable.snapshots.has(next)) {
        reachable.snapshots.add(next);
        next = this.state.snapshots.get(next)?.parent;
      }
    }
    return reachable;
  }

  /** Roots of a record: its snapshot and its blobs. */
  static recordRoots(record: StoredRecord): { descriptors: Descriptor[]; snapshots: string[] } {
    return {
      descriptors: [...(record.blobs ?? [])],
      snapshots: record.snapshot === undefined ? [] : [record.snapshot],
    };
  }

  private async childrenOf(digest: Digest, mediaType: string | undefined): Promise<Children> {
    const known = this.children.get(digest);
    if (known !== undefined) return known;
    let found: Children = NO_CHILDREN;
    // Manifests are small; a large blob (a layer) is never parsed.
    if ((this.state.blobs.get(digest)?.size ?? Infinity) <= MAX_MANIFEST_BYTES) {
      try {
        const bytes = await this.content.readBuffer(digest, { signal: neverAborted });
        const json = JSON.parse(bytes.toString('utf8')) as {
          mediaType?: unknown;
          config?: unknown;
          layers?: unknown;
          manifests?: unknown;
        };
        const type = mediaType ?? (typeof json.mediaType === 'string' ? json.mediaType : undefined);
        const description =
          json.mediaType === IMAGE_DESCRIPTION_MEDIA_TYPE
            ? parseImageDescription(bytes)
            : undefined;
        if (description !== undefined) {
          found = descriptionReferences(description);
        } else if (type === undefined || WALKED_TYPES.has(type)) {
          found = {
            descriptors: [json.config, ...asArray(json.layers), ...asArray(json.manifests)].filter(
              isDescriptorLike,
            ),
            snapshots: [],
          };
        }
      } catch {
        // Not JSON, corrupt or gone: nothing to follow.
      }
    }
    this.children.set(digest, found);
    return found;
  }
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function isDescriptorLike(value: unknown): value is Descriptor {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return isDigest(record['digest']) && typeof record['mediaType'] === 'string';
}

export function bytesOf(state: StoreState, reachable: Reachable): number {
  let total = 0;
  for (const digest of reachable.blobs) total += state.blobs.get(digest)?.size ?? 0;
  for (const id of reachable.snapshots) total += state.snapshots.get(id)?.tree.bytes ?? 0;
  return total;
}
