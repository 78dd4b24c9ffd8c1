import { familiarName, parseReference } from '../../registry-client/index.js';
import type { ServiceParts } from '../service.js';
import { findLocalImage, listNamedImages, manifestDigestOf } from './local-images.js';

/**
 * `GET /images/{name}/json` (`docker inspect`, `docker image inspect`, and
 * docker-py's `images.build`, which looks the built image up): the image's
 * ID, names, config and layers in Docker's ImageInspect shape (API 1.41).
 */
export async function inspectImage(
  parts: ServiceParts,
  name: string,
): Promise<Record<string, unknown>> {
  const signal = AbortSignal.timeout(60_000);
  const found = await findLocalImage(parts.engine, name, signal);
  const same = (await listNamedImages(parts.engine, signal)).filter(
    (named) => named.id === found.id,
  );
  const tags: string[] = [];
  const digests: string[] = [];
  for (const named of same) {
    const ref = parseReference(named.record.name);
    const repository = familiarName({ ...ref, tag: undefined, digest: undefined });
    if (ref.tag !== undefined) tags.push(`${repository}:${ref.tag}`);
    const manifest = manifestDigestOf(named);
    const digest = `${repository}@${manifest ?? ''}`;
    if (manifest !== undefined && !digests.includes(digest)) digests.push(digest);
  }
  const image = found.image;
  const size =
    (image?.layers.reduce((sum, layer) => sum + layer.size, 0) ?? 0) +
    (image?.configDescriptor.size ?? 0);
  return {
    Id: found.id,
    RepoTags: tags,
    RepoDigests: digests,
    Parent: '',
    Comment: '',
    Created: image?.config.created ?? '',
    Container: '',
    ContainerConfig: {},
    DockerVersion: '',
    Author: image?.config.author ?? '',
    Config: image?.config.config ?? {},
    Architecture: image?.config.architecture ?? 'amd64',
    Os: image?.config.os ?? 'linux',
    Size: size,
    VirtualSize: size,
    // No graph driver: layers live in tbuild's store; the shape is what clients expect.
    GraphDriver: { Name: 'tbuild', Data: null },
    RootFS: { Type: 'layers', Layers: image?.config.rootfs.diff_ids ?? [] },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}
