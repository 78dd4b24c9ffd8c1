import type { ArchiveSink } from './archive-sink.js';
import { blobPath, type ImageBundle } from './image-bundle.js';
import { writeOciLayout, type LayoutOptions } from './oci-layout.js';

/**
 * A `docker load` archive: the OCI layout plus the legacy `manifest.json`
 * (Config, RepoTags, Layers as paths into the blobs), which every Docker
 * version reads; newer ones also read the OCI index. Layers may stay
 * compressed: docker load detects and decompresses them.
 */
export async function writeDockerArchive(
  bundle: ImageBundle,
  sink: ArchiveSink,
  options: LayoutOptions,
): Promise<void> {
  await writeOciLayout(bundle, sink, options);
  const manifest = [
    {
      Config: blobPath(bundle.config.descriptor.digest),
      RepoTags: options.names.map(shortDockerName),
      Layers: bundle.layers.map((layer) => blobPath(layer.descriptor.digest)),
    },
  ];
  await sink.file('manifest.json', Buffer.from(JSON.stringify(manifest)));
}

/** Docker shows `docker.io/library/app:1` as `app:1`; RepoTags use its short form. */
export function shortDockerName(name: string): string {
  const withTag = /:[\w][\w.-]*$/.test(name.slice(name.lastIndexOf('/') + 1))
    ? name
    : `${name}:latest`;
  return withTag.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}
