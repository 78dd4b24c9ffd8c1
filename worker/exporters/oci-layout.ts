import { MEDIA_TYPES } from '../../core/index.js';
import type { ArchiveSink } from './archive-sink.js';
import { blobPath, serializeBlob, type ImageBundle } from './image-bundle.js';

export interface LayoutOptions {
  /** Image names, e.g. `docker.io/library/app:1`; each becomes an index entry. */
  readonly names: readonly string[];
  /** Annotations of each index entry, the manifest's descriptor (`--annotation manifest-descriptor:…`). */
  readonly descriptorAnnotations?: Readonly<Record<string, string>>;
}

/**
 * An OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`), as
 * BuildKit's oci exporter writes it: one index entry per name, annotated with
 * the full name (containerd) and the tag (OCI ref.name).
 */
export async function writeOciLayout(
  bundle: ImageBundle,
  sink: ArchiveSink,
  options: LayoutOptions,
): Promise<void> {
  await sink.file('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  await writeBlobs(bundle, sink);
  const entries = options.names.length === 0 ? [undefined] : options.names;
  const index = serializeBlob(MEDIA_TYPES.ociIndex, {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: entries.map((name) => {
      const annotations = {
        ...options.descriptorAnnotations,
        ...(name === undefined
          ? {}
          : {
              'io.containerd.image.name': name,
              'org.opencontainers.image.ref.name': tagOf(name),
            }),
      };
      return {
        ...bundle.manifest.descriptor,
        ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
      };
    }),
  });
  await sink.file('index.json', index.bytes);
}

/** Blobs in a fixed order (config, layers, manifest), each once. */
export async function writeBlobs(bundle: ImageBundle, sink: ArchiveSink): Promise<void> {
  const written = new Set<string>();
  const once = async (digest: string, write: () => Promise<void>): Promise<void> => {
    if (written.has(digest)) return;
    written.add(digest);
    await write();
  };
  await once(bundle.config.descriptor.digest, () =>
    sink.file(blobPath(bundle.config.descriptor.digest), bundle.config.bytes),
  );
  for (const layer of bundle.layers) {
    await once(layer.descriptor.digest, () =>
      sink.fileFromStream(blobPath(layer.descriptor.digest), layer.descriptor.size, layer.open()),
    );
  }
  await once(bundle.manifest.descriptor.digest, () =>
    sink.file(blobPath(bundle.manifest.descriptor.digest), bundle.manifest.bytes),
  );
}

/** The tag of a name (`latest` when none), as OCI's ref.name annotation holds it. */
export function tagOf(name: string): string {
  const withoutDigest = name.split('@')[0] ?? name;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  return colon < 0 ? 'latest' : withoutDigest.slice(colon + 1);
}
