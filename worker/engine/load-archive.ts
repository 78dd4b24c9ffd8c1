import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import {
  isDigest,
  MEDIA_TYPES,
  TbuildError,
  type Descriptor,
  type Digest,
} from '../../core/index.js';
import { buildManifest } from '../exporters/index.js';
import { normalizeImageName } from './local-images.js';
import type { BuildStore } from './store.js';

export interface LoadedImage {
  readonly name: string | undefined;
  readonly manifest: Descriptor;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Loads a `docker save` archive or an OCI image layout tar into the store:
 * every member is written to the content store under its digest (verified),
 * then each image is named as its archive names it (RepoTags, or the OCI
 * `io.containerd.image.name` / `org.opencontainers.image.ref.name` annotations).
 */
export async function loadImageArchive(
  store: BuildStore,
  file: string,
  signal: AbortSignal,
): Promise<LoadedImage[]> {
  const members = new Map<string, { digest: Digest; size: number; gzip: boolean }>();
  const small = new Map<string, Buffer>();
  // Loaded here, not at startup: only `tbuild load` reads archives.
  const { extract } = await import('tar-stream');
  const unpack = extract();
  const done = new Promise<void>((resolve, reject) => {
    unpack.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^\.\//, '');
      if (header.type !== 'file') {
        stream.resume();
        stream.on('end', next);
        return;
      }
      const chunks: Buffer[] = [];
      let first: Buffer | undefined;
      const keepText = name.endsWith('.json') || name === 'oci-layout' || header.size < 1024 * 1024;
      const tee = new Readable({ read() {} });
      stream.on('data', (data: unknown) => {
        const chunk = data as Buffer;
        first ??= chunk;
        if (keepText) chunks.push(chunk);
        tee.push(chunk);
      });
      stream.on('end', () => tee.push(null));
      store.content
        .writeStream(tee, { signal })
        .then((written) => {
          members.set(name, {
            digest: written.digest,
            size: written.size,
            gzip: first?.[0] === GZIP_MAGIC[0] && first?.[1] === GZIP_MAGIC[1],
          });
          if (keepText) small.set(name, Buffer.concat(chunks));
          next();
        })
        .catch(reject);
    });
    unpack.on('finish', resolve);
    unpack.on('error', reject);
  });
  createReadStream(file)
    .on('error', (error) => {
      unpack.destroy(error);
    })
    .pipe(unpack);
  await done;

  const index = small.get('index.json');
  const dockerManifest = small.get('manifest.json');
  if (dockerManifest !== undefined)
    return loadDockerArchive(
      store,
      JSON.parse(dockerManifest.toString()) as DockerArchiveEntry[],
      members,
      small,
      signal,
      file,
    );
  if (index !== undefined)
    return loadOciLayout(store, JSON.parse(index.toString()) as OciIndex, file);
  throw new TbuildError(
    'TB_ARCHIVE_INVALID',
    `${file} is neither a docker archive (manifest.json) nor an OCI layout (index.json)`,
  );
}

interface DockerArchiveEntry {
  readonly Config: string;
  readonly RepoTags?: readonly string[] | null;
  readonly Layers: readonly string[];
}

interface OciIndex {
  readonly manifests: readonly Descriptor[];
}

async function loadDockerArchive(
  store: BuildStore,
  entries: readonly DockerArchiveEntry[],
  members: ReadonlyMap<string, { digest: Digest; size: number; gzip: boolean }>,
  small: ReadonlyMap<string, Buffer>,
  signal: AbortSignal,
  file: string,
): Promise<LoadedImage[]> {
  const loaded: LoadedImage[] = [];
  for (const entry of entries) {
    const config = small.get(entry.Config);
    if (config === undefined) throw missing(file, entry.Config);
    const layers = entry.Layers.map((path): Descriptor => {
      const member = members.get(path);
      if (member === undefined) throw missing(file, path);
      return {
        mediaType: member.gzip ? MEDIA_TYPES.ociLayerGzip : MEDIA_TYPES.ociLayer,
        digest: member.digest,
        size: member.size,
      };
    });
    const { manifest } = buildManifest({ config, layers, ociMediaTypes: true });
    await store.content.writeBuffer(manifest.bytes, {
      signal,
      expected: { digest: manifest.descriptor.digest },
    });
    const names = entry.RepoTags ?? [];
    for (const name of names) await store.images.put(normalizeImageName(name), manifest.descriptor);
    loaded.push(
      ...(names.length === 0
        ? [{ name: undefined, manifest: manifest.descriptor }]
        : names.map((name) => ({ name: normalizeImageName(name), manifest: manifest.descriptor }))),
    );
  }
  return loaded;
}

async function loadOciLayout(
  store: BuildStore,
  index: OciIndex,
  file: string,
): Promise<LoadedImage[]> {
  const loaded: LoadedImage[] = [];
  for (const descriptor of index.manifests) {
    if (
      !isDigest(descriptor.digest) ||
      (await store.content.info(descriptor.digest)) === undefined
    ) {
      throw missing(file, `blobs/sha256/${String(descriptor.digest).slice(7)}`);
    }
    const annotations = descriptor.annotations ?? {};
    const fullName = annotations['io.containerd.image.name'];
    const tag = annotations['org.opencontainers.image.ref.name'];
    const name =
      fullName ??
      (tag === undefined ? undefined : tag.includes(':') || tag.includes('/') ? tag : undefined);
    const target: Descriptor = {
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
    };
    if (name !== undefined) await store.images.put(normalizeImageName(name), target);
    loaded.push({
      name: name === undefined ? undefined : normalizeImageName(name),
      manifest: target,
    });
  }
  return loaded;
}

function missing(file: string, member: string): TbuildError {
  return new TbuildError(
    'TB_ARCHIVE_INVALID',
    `${file} refers to ${member}, which it does not contain`,
  );
}
