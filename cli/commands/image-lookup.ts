import { TbuildError, toTbuildError, type Digest } from '../../core/index.js';
import {
  isBuiltImage,
  normalizeImageName,
  readLocalImage,
  type LocalImage,
  type StoreMaintenance,
} from '../../worker/index.js';

/** A name of the local image store, read through to its image when its blobs are readable. */
export interface NamedImage {
  /** As stored: `docker.io/library/busybox:latest`. */
  readonly name: string;
  /** Undefined for an image built here that no push gave a manifest yet. */
  readonly manifestDigest: Digest | undefined;
  /** The image ID docker shows: the config digest (the manifest's when unreadable). */
  readonly id: Digest;
  readonly image: LocalImage | undefined;
  /** When the name was last pointed at its image. */
  readonly taggedAt: number;
}

/** Every name of the store. An image whose blobs are damaged is kept, with a warning. */
export async function listNamedImages(
  store: StoreMaintenance['store'],
  signal: AbortSignal,
): Promise<NamedImage[]> {
  const found: NamedImage[] = [];
  for (const record of await store.images.list()) {
    let image: LocalImage | undefined;
    try {
      image = await readLocalImage(store, record.name, signal);
    } catch (error) {
      console.error(`WARNING: ${record.name}: ${toTbuildError(error).message}`);
    }
    found.push({
      name: record.name,
      manifestDigest:
        image !== undefined || isBuiltImage(record.target)
          ? image?.manifestDigest
          : record.target.digest,
      id: image?.configDescriptor.digest ?? record.target.digest,
      image,
      taggedAt: record.updatedAt,
    });
  }
  return found;
}

/**
 * What `wanted` names, as docker reads an image argument: an image ID (full,
 * `sha256:`-prefixed or a unique prefix of at least 4 hex digits) matches every
 * name of that image; anything else is a name, normalised (`busybox` →
 * `docker.io/library/busybox:latest`). TB_IMAGE_NOT_FOUND when nothing matches.
 */
export function findImages(all: readonly NamedImage[], wanted: string): NamedImage[] {
  const hex = /^(?:sha256:)?([0-9a-f]{4,64})$/.exec(wanted)?.[1];
  if (hex !== undefined) {
    const byId = all.filter((entry) => entry.id.slice('sha256:'.length).startsWith(hex));
    const ids = new Set(byId.map((entry) => entry.id));
    if (ids.size > 1) {
      throw new TbuildError('TB_USAGE', `image ID prefix "${wanted}" is ambiguous`, {
        hint: 'give more digits of the ID (tbuild images --no-trunc shows them)',
      });
    }
    if (byId.length > 0) return byId;
  }
  let name: string | undefined;
  try {
    name = normalizeImageName(wanted);
  } catch {
    // Not a valid reference: nothing can be stored under it.
  }
  const byName = all.filter((entry) => entry.name === name);
  if (byName.length > 0) return byName;
  throw new TbuildError('TB_IMAGE_NOT_FOUND', `No such image: ${wanted}`, {
    hint: 'run `tbuild images` to list local images',
    details: { name: wanted },
  });
}

/** `docker.io/library/busybox:latest` → `busybox` + `latest`, as docker shows names. */
export function splitName(name: string): { repository: string; tag: string } {
  const at = name.indexOf('@');
  const withoutDigest = at < 0 ? name : name.slice(0, at);
  const colon = withoutDigest.lastIndexOf(':');
  const hasTag = colon > withoutDigest.lastIndexOf('/');
  const repository = (hasTag ? withoutDigest.slice(0, colon) : withoutDigest)
    .replace(/^docker\.io\/library\//, '')
    .replace(/^docker\.io\//, '');
  return { repository, tag: hasTag ? withoutDigest.slice(colon + 1) : '<none>' };
}

/** The size ls, inspect and history show: the stored (compressed) layers and the config. */
export function storedSize(image: LocalImage | undefined): number {
  if (image === undefined) return 0;
  return image.layers.reduce((sum, layer) => sum + layer.size, 0) + image.configDescriptor.size;
}
