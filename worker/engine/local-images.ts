import {
  MEDIA_TYPES,
  sha256Digest,
  TbuildError,
  type Descriptor,
  type Digest,
  type ImageConfig,
} from '../../core/index.js';
import {
  IMAGE_DESCRIPTION_MEDIA_TYPE,
  parseImageDescription,
  type ImageDescription,
} from '../../cache/index.js';
import {
  formatReference,
  LINUX_AMD64,
  parseManifest,
  parseReference,
  selectPlatform,
} from '../../registry-client/index.js';
import type { BuildStore } from './store.js';

/** An image of the local store, read through to its config and layers. */
export interface LocalImage {
  /** The normalised name it was found under. */
  readonly name: string;
  /**
   * The manifest's digest; for an image built here (kept as a description),
   * the last manifest made of it (by a push), undefined while none was.
   */
  readonly manifestDigest: Digest | undefined;
  readonly config: ImageConfig;
  readonly configDescriptor: Descriptor;
  /**
   * The layers' blobs. A described layer that has no blob yet is listed as its
   * uncompressed tar (digest: its diffID, size: its files' bytes): right for
   * sizes, not a blob to read.
   */
  readonly layers: readonly Descriptor[];
  /** For an image built here: its description (layers as snapshots, manifest-to-be). */
  readonly description?: ImageDescription;
}

/** `busybox` → `docker.io/library/busybox:latest`: the form names are stored under. */
export function normalizeImageName(name: string): string {
  return formatReference(parseReference(name));
}

/**
 * Reads an image by name from the local store: its manifest (choosing
 * linux/amd64 from an index), config and layer descriptors. Every blob read
 * is verified against its digest by the content store. A `name@sha256:…`
 * no name record holds is read by its digest when the content store has that
 * manifest (an image of an OCI layout imported for `--build-context`).
 */
export async function readLocalImage(
  store: BuildStore,
  name: string,
  signal: AbortSignal,
): Promise<LocalImage | undefined> {
  const normalized = normalizeImageName(name);
  const record = await store.images.get(normalized);
  const pinned = parseReference(normalized).digest;
  const byDigest =
    record === undefined && pinned !== undefined && (await store.content.info(pinned)) !== undefined
      ? // The media type is read from the manifest itself (parseManifest).
        { mediaType: '', digest: pinned, size: 0 }
      : undefined;
  let descriptor: Descriptor | undefined = record?.target ?? byDigest;
  if (descriptor === undefined) return undefined;
  if (descriptor.mediaType === IMAGE_DESCRIPTION_MEDIA_TYPE) {
    const description = await readImageDescription(store, descriptor.digest, normalized, signal);
    const configBytes = await store.content.readBuffer(description.config.digest, { signal });
    return {
      name: normalized,
      manifestDigest: record?.manifests?.at(-1)?.digest,
      config: JSON.parse(configBytes.toString('utf8')) as ImageConfig,
      configDescriptor: description.config,
      layers: description.layers.map(
        (layer) =>
          layer.blob ?? { mediaType: MEDIA_TYPES.ociLayer, digest: layer.diffId, size: layer.size },
      ),
      description,
    };
  }
  for (let depth = 0; depth < 4; depth++) {
    const parsed = parseManifest(
      await store.content.readBuffer(descriptor.digest, { signal }),
      descriptor.mediaType,
      normalized,
    );
    if (parsed.kind === 'index') {
      descriptor = selectPlatform(parsed.index, LINUX_AMD64, normalized);
      continue;
    }
    const configBytes = await store.content.readBuffer(parsed.manifest.config.digest, { signal });
    return {
      name: normalized,
      manifestDigest: descriptor.digest,
      config: JSON.parse(configBytes.toString('utf8')) as ImageConfig,
      configDescriptor: parsed.manifest.config,
      layers: parsed.manifest.layers,
    };
  }
  throw new TbuildError('TB_IMAGE_NOT_FOUND', `image ${normalized} nests indexes too deeply`);
}

/** An image description from the content store (TB_IMAGE_INVALID when it is not one). */
export async function readImageDescription(
  store: BuildStore,
  digest: Digest,
  name: string,
  signal: AbortSignal,
): Promise<ImageDescription> {
  const description = parseImageDescription(await store.content.readBuffer(digest, { signal }));
  if (description === undefined)
    throw new TbuildError('TB_IMAGE_INVALID', `image ${name}: its record ${digest} cannot be read`);
  return description;
}

/** The OCI chain ids of a stack of diff ids: chain(n) = sha256(chain(n-1) + " " + diff(n)). */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const chains: Digest[] = [];
  for (const diffId of diffIds) {
    const previous = chains.at(-1);
    chains.push(previous === undefined ? diffId : sha256Digest(`${previous} ${diffId}`));
  }
  return chains;
}
