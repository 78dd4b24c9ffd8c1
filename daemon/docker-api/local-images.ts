import { TbuildError, toTbuildError } from '../../core/index.js';
import type { ImageRecord } from '../../cache/index.js';
import {
  isBuiltImage,
  normalizeImageName,
  readLocalImage,
  type Engine,
  type LocalImage,
} from '../../worker/index.js';

/** A name of the local image store with what it points at (undefined when its blobs are damaged). */
export interface NamedImage {
  readonly record: ImageRecord;
  readonly image: LocalImage | undefined;
  /** The image ID as Docker shows it: the config digest (the manifest's when unreadable). */
  readonly id: string;
}

/** Every name of the local image store with its image, read as `tbuild images` reads them. */
export async function listNamedImages(engine: Engine, signal: AbortSignal): Promise<NamedImage[]> {
  const named: NamedImage[] = [];
  for (const record of await engine.store.images.list()) {
    // An image whose blobs are damaged is still listed (by its manifest), so it can be replaced.
    const image = await readLocalImage(engine.store, record.name, signal).catch(() => undefined);
    named.push({ record, image, id: image?.configDescriptor.digest ?? record.target.digest });
  }
  return named;
}

/** The manifest a name's image has, for RepoDigests; none for an image built here and not pushed. */
export function manifestDigestOf(named: NamedImage): string | undefined {
  if (named.image !== undefined) return named.image.manifestDigest;
  return isBuiltImage(named.record.target) ? undefined : named.record.target.digest;
}

/**
 * The local image a Docker API path names, as Docker finds it: a full image
 * ID (`sha256:<hex>`), else a name (`app`, `app:1`, `reg:5000/team/app`),
 * else a unique prefix of an image ID. Not found is Docker's "No such image".
 */
export async function findLocalImage(
  engine: Engine,
  name: string,
  signal: AbortSignal,
): Promise<NamedImage> {
  const images = await listNamedImages(engine, signal);
  if (/^sha256:[0-9a-f]{64}$/.test(name)) {
    const byId = images.find((image) => image.id === name);
    if (byId !== undefined) return byId;
  } else {
    const normalized = tryNormalize(name);
    const byName = images.find((image) => image.record.name === normalized);
    if (byName !== undefined) return byName;
    const prefix = /^(?:sha256:)?([0-9a-f]{1,64})$/.exec(name)?.[1];
    if (prefix !== undefined) {
      const ids = new Set(
        images.filter((image) => image.id.slice(7).startsWith(prefix)).map((image) => image.id),
      );
      if (ids.size > 1)
        throw new TbuildError('TB_SERVICE_REQUEST', `image ID prefix ${name} is ambiguous`, {
          hint: 'give more characters of the ID, or a name',
        });
      const byPrefix = images.find((image) => ids.has(image.id));
      if (byPrefix !== undefined) return byPrefix;
    }
  }
  throw new TbuildError('TB_IMAGE_NOT_FOUND', `No such image: ${name}`, {
    hint: 'GET /images/json lists the images of the service',
  });
}

/** A name as the image store keys it (`docker.io/library/app:latest`); a bad name is the caller's mistake. */
export function normalizeRequestedName(name: string): string {
  try {
    return normalizeImageName(name);
  } catch (error) {
    throw new TbuildError('TB_SERVICE_REQUEST', `invalid image name "${name}"`, {
      hint: toTbuildError(error).message,
      cause: error,
    });
  }
}

function tryNormalize(name: string): string | undefined {
  try {
    return normalizeImageName(name);
  } catch {
    return undefined;
  }
}
