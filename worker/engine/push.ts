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
import { readLocalImage } from './local-images.js';
import type { BuildStore } from './store.js';

export interface PushResult {
  /** The manifest's digest, as the registry stores it. */
  readonly digest: Digest;
  readonly name: string;
  readonly blobs: ReadonlyMap<Digest, PushBlobResult>;
}

export interface PushOptions {
  readonly signal: AbortSignal;
  /** Parallel blob uploads; default 4. */
  readonly concurrency?: number;
  /** Bytes sent of one blob. */
  readonly onProgress?: (digest: Digest, sent: number, total: number) => void;
  /** Every blob is in the registry; the manifest goes next (progress shows the two apart). */
  readonly onBlobsPushed?: () => void;
}

/**
 * Pushes an image whose manifest and blobs are in the content store to `name`: blobs
 * first (skipped when the registry has them, mounted from another repository of the same
 * registry that a local image came from, uploaded otherwise), then the manifest by digest,
 * then the tag. The manifest's bytes are pushed as stored, so the digest the build printed
 * is the digest the registry serves. An index is pushed as its linux/amd64 image.
 */
export async function pushStoredImage(
  store: BuildStore,
  client: RegistryClient,
  manifest: Descriptor,
  name: string,
  options: PushOptions,
): Promise<PushResult> {
  const target = parseReference(name);
  const { bytes, image } = await imageManifest(store, manifest, name, options.signal);
  const mountSources = await mountCandidates(store, target, options.signal);
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
        open: () => lazyStream(() => store.content.readStream(blob.digest, { signal })),
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
  return {
    digest,
    name,
    blobs: new Map(blobs.map((blob, index) => [blob.digest, results[index] ?? 'uploaded'])),
  };
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

async function imageManifest(
  store: BuildStore,
  descriptor: Descriptor,
  name: string,
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
