import { Readable } from 'node:stream';
import { mapLimit, TbuildError, type Descriptor, type Digest } from '../../core/index.js';
import {
  LINUX_AMD64,
  parseManifest,
  parseReference,
  pushBlob,
  putManifest,
  selectPlatform,
  type BlobSource,
  type PushBlobResult,
  type RegistryClient,
} from '../../registry-client/index.js';
import { IMAGE_DESCRIPTION_MEDIA_TYPE } from '../../cache/index.js';
import type { ThreadPool } from '../threads/index.js';
import { makeImageManifest } from './image-export.js';
import { readImageDescription, readLocalImage } from './local-images.js';
import type { RemoteBlobSource } from './refs.js';
import type { BuildStore } from './store.js';

export interface PushResult {
  /** The manifest's digest, as the registry stores it. */
  readonly digest: Digest;
  /** The manifest pushed, as the content store holds it. */
  readonly manifest: Descriptor;
  readonly name: string;
  readonly blobs: ReadonlyMap<Digest, PushBlobResult>;
  /** Bytes of the blobs uploaded (not those the registry had or mounted). */
  readonly uploadedBytes: number;
}

export interface PushOptions {
  readonly signal: AbortSignal;
  /** Compresses the layers of an image built here whose blobs were not made yet. */
  readonly pool?: ThreadPool;
  /** Parallel blob uploads; default 4. */
  readonly concurrency?: number;
  /** Bytes sent of one blob. */
  readonly onProgress?: (digest: Digest, sent: number, total: number) => void;
  /** Every blob is in the registry; the manifest goes next (progress shows the two apart). */
  readonly onBlobsPushed?: () => void;
  /**
   * Blobs that may be absent here (an image made of a remote cache hit): each is
   * mounted from its source's repository when that is on the target registry, else
   * read from the source and uploaded, so a push never downloads a blob it can mount.
   */
  readonly remoteBlobs?: ReadonlyMap<Digest, RemoteBlobSource>;
}

/**
 * Pushes an image of the local store to `name`: blobs first (skipped when the registry
 * has them, mounted from another repository of the same registry that a local image came
 * from, uploaded otherwise), then the manifest by digest, then the tag. `manifest` is a
 * manifest in the content store, pushed as stored, so the digest the build printed is the
 * digest the registry serves; an index is pushed as its linux/amd64 image. It may also be
 * an image built here (an image description): its manifest-to-be is made first, with the
 * layer blobs not made before (`options.pool`), and the name's record keeps it.
 */
export async function pushStoredImage(
  store: BuildStore,
  client: RegistryClient,
  stored: Descriptor,
  name: string,
  options: PushOptions,
): Promise<PushResult> {
  const manifest =
    options.pool === undefined || !isBuiltImage(stored)
      ? stored
      : await pushableManifest(store, options.pool, stored, name, options.signal);
  if (isBuiltImage(manifest))
    throw new TbuildError('TB_INTERNAL', 'pushing an image built here needs the thread pool');
  const target = parseReference(name);
  const remote = options.remoteBlobs ?? new Map<Digest, RemoteBlobSource>();
  const { bytes, image } = await imageManifest(store, manifest, name, remote, options.signal);
  const mountSources = await mountCandidates(store, target, options.signal);
  for (const [digest, source] of remote) {
    if (source.repository?.registry !== target.registry) continue;
    // The cache's repository first: it surely holds the blob.
    mountSources.set(digest, [source.repository.repository, ...(mountSources.get(digest) ?? [])]);
  }
  const blobs: Descriptor[] = [
    ...new Map([image.config, ...image.layers].map((blob) => [blob.digest, blob])).values(),
  ];
  const results = await mapLimit(
    blobs,
    options.concurrency ?? 4,
    async (blob, _index, signal) => {
      const source: BlobSource = {
        digest: blob.digest,
        size: blob.size,
        open: () => lazyStream(() => openBlob(store, blob, remote, signal)),
      };
      return pushBlob(client, target, source, {
        signal,
        mountFrom: mountSources.get(blob.digest) ?? [],
        onProgress: (sent, total) => options.onProgress?.(blob.digest, sent, total),
      });
    },
    options.signal,
  );
  options.onBlobsPushed?.();
  const body = { mediaType: image.mediaType, bytes };
  const digest = await putManifest(client, target, image.digest, body, options.signal);
  if (target.tag !== undefined) await putManifest(client, target, target.tag, body, options.signal);
  if (manifest !== stored) await store.images.addManifest(name, stored.digest, manifest);
  return {
    digest,
    manifest: { mediaType: image.mediaType, digest: image.digest, size: bytes.length },
    name,
    blobs: new Map(blobs.map((blob, index) => [blob.digest, results[index] ?? 'uploaded'])),
    uploadedBytes: blobs.reduce(
      (sum, blob, index) => sum + (results[index] === 'uploaded' ? blob.size : 0),
      0,
    ),
  };
}

/** Whether an image name's target is an image built here (a description, no manifest yet). */
export function isBuiltImage(target: Descriptor): boolean {
  return target.mediaType === IMAGE_DESCRIPTION_MEDIA_TYPE;
}

/**
 * The manifest pushed for an image name's target: itself, or for an image built
 * here the manifest made of its description with its manifest-to-be. A blob made
 * before is only checked to be there: the upload reads it (a damaged one fails
 * there and is removed, so the next push makes it again), and a registry that
 * has it needs no byte of it.
 */
export async function pushableManifest(
  store: BuildStore,
  pool: ThreadPool,
  target: Descriptor,
  name: string,
  signal: AbortSignal,
): Promise<Descriptor> {
  if (!isBuiltImage(target)) return target;
  const description = await readImageDescription(store, target.digest, name, signal);
  const bundle = await makeImageManifest(
    { description },
    { store, pool, signal, storedBlob: 'present' },
  );
  return bundle.manifest.descriptor;
}

interface StoredManifest {
  readonly bytes: Buffer;
  readonly image: {
    readonly digest: Digest;
    readonly mediaType: string;
    readonly config: Descriptor;
    readonly layers: readonly Descriptor[];
  };
}

/** A blob's bytes: from the content store, else from the remote source that holds it. */
async function openBlob(
  store: BuildStore,
  blob: Descriptor,
  remote: ReadonlyMap<Digest, RemoteBlobSource>,
  signal: AbortSignal,
): Promise<Readable> {
  const source = remote.get(blob.digest);
  if (source === undefined || (await store.content.info(blob.digest)) !== undefined)
    return store.content.readStream(blob.digest, { signal });
  return source.open(blob, signal);
}

async function imageManifest(
  store: BuildStore,
  descriptor: Descriptor,
  name: string,
  remote: ReadonlyMap<Digest, RemoteBlobSource>,
  signal: AbortSignal,
): Promise<StoredManifest> {
  let current = descriptor;
  for (let depth = 0; depth < 4; depth++) {
    const bytes = await store.content.readBuffer(current.digest, { signal });
    const parsed = parseManifest(bytes, current.mediaType, name);
    if (parsed.kind === 'index') {
      current = selectPlatform(parsed.index, LINUX_AMD64, name);
      continue;
    }
    const missing: Digest[] = [];
    for (const blob of [parsed.manifest.config, ...parsed.manifest.layers]) {
      if (remote.has(blob.digest)) continue;
      if ((await store.content.info(blob.digest)) === undefined) missing.push(blob.digest);
    }
    if (missing.length > 0) {
      throw new TbuildError(
        'TB_IMAGE_INVALID',
        `cannot push ${name}: ${String(missing.length)} of its blobs are not in the local store (${missing.join(', ')})`,
        { hint: `pull the image completely first (tbuild pull ${name})` },
      );
    }
    return {
      bytes,
      image: {
        digest: current.digest,
        mediaType: parsed.manifest.mediaType,
        config: parsed.manifest.config,
        layers: parsed.manifest.layers,
      },
    };
  }
  throw new TbuildError('TB_IMAGE_INVALID', `image ${name} nests indexes too deeply`);
}

/**
 * For each blob, the other repositories of the target registry that local images were
 * pulled from or pushed to and that hold it: the registry can mount it instead of
 * receiving it again.
 */
async function mountCandidates(
  store: BuildStore,
  target: ReturnType<typeof parseReference>,
  signal: AbortSignal,
): Promise<Map<Digest, string[]>> {
  const sources = new Map<Digest, string[]>();
  for (const record of await store.images.list()) {
    let ref: ReturnType<typeof parseReference>;
    try {
      ref = parseReference(record.name);
    } catch {
      continue;
    }
    if (ref.registry !== target.registry || ref.repository === target.repository) continue;
    const image = await readLocalImage(store, record.name, signal).catch(() => undefined);
    if (image === undefined) continue;
    for (const blob of [image.configDescriptor, ...image.layers]) {
      const repos = sources.get(blob.digest) ?? [];
      if (!repos.includes(ref.repository)) repos.push(ref.repository);
      sources.set(blob.digest, repos);
    }
  }
  return sources;
}

/** A stream that opens its source only when first read (an upload may never need it). */
function lazyStream(open: () => Promise<Readable>): Readable {
  return Readable.from(
    (async function* () {
      for await (const chunk of await open()) yield chunk as Uint8Array;
    })(),
  );
}
