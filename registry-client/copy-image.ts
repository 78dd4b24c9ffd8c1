import type { Digest } from '../core/index.js';
import { fetchBlob } from './blob-fetch.js';
import type { RegistryClient } from './client.js';
import { type PushOptions, type PushedImage, pushImage } from './image-push.js';
import { MEDIA_TYPES } from './media-types.js';
import { resolveImage } from './manifests.js';
import type { PlatformSpec } from './platform.js';
import type { ImageReference } from './reference.js';

/**
 * Copies one platform's image from a reference to a repository, streaming each blob from
 * the source straight into the upload (no temp files). Within one registry blobs are
 * mounted instead of copied.
 */
export async function copyImage(
  client: RegistryClient,
  source: ImageReference,
  target: ImageReference,
  options: PushOptions & { readonly platform?: PlatformSpec; readonly ociMediaTypes?: boolean },
): Promise<PushedImage> {
  const resolved = await resolveImage(client, source, {
    signal: options.signal,
    ...(options.platform === undefined ? {} : { platform: options.platform }),
  });
  const image = resolved.manifest.image;
  const open = (digest: Digest, size: number) => () =>
    fetchBlob(client, source, { digest, size }, { signal: options.signal });
  const sameRegistry = source.registry === target.registry;
  return pushImage(
    client,
    target,
    {
      config: {
        digest: image.config.digest,
        size: image.config.size,
        open: open(image.config.digest, image.config.size),
      },
      layers: image.layers.map((layer) => ({
        digest: layer.digest,
        size: layer.size,
        mediaType: layer.mediaType,
        ...(layer.annotations === undefined ? {} : { annotations: layer.annotations }),
        open: open(layer.digest, layer.size),
      })),
      ociMediaTypes: options.ociMediaTypes ?? image.mediaType === MEDIA_TYPES.ociManifest,
    },
    target.tag === undefined ? [] : [target.tag],
    {
      ...options,
      ...(sameRegistry ? { mountFrom: [source.repository, ...(options.mountFrom ?? [])] } : {}),
    },
  );
}
