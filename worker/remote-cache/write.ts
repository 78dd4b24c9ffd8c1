import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  digestHex,
  isTbuildError,
  mapLimit,
  MEDIA_TYPES,
  sha256Digest,
  TbuildError,
  toTbuildError,
  type Descriptor,
  type Digest,
} from '../../core/index.js';
import {
  parseReference,
  pushBlob,
  putManifest,
  type RegistryClient,
} from '../../registry-client/index.js';
import type { CacheBlob, CollectedCache } from './export.js';
import { cacheManifest, CACHE_CONFIG_MEDIA_TYPE, encodeCacheConfig } from './format.js';

/** Bytes written of one blob of the cache. */
export type CacheBlobProgress = (
  digest: Digest,
  current: number,
  total: number,
  completed: boolean,
) => void;

export interface WriteCacheOptions {
  readonly imageManifest: boolean;
  readonly signal: AbortSignal;
  readonly onProgress?: CacheBlobProgress;
  /** Blobs written at once; default 4. */
  readonly concurrency?: number;
}

/** What an export wrote: the manifest's digest, and how many blobs were sent (the rest were there). */
export interface WrittenCache {
  readonly digest: Digest;
  readonly records: number;
  readonly blobs: number;
  readonly sent: number;
}

/**
 * Pushes a cache to `ref`: every blob first (skipped when there, mounted from
 * the imported cache's repository on the same registry, uploaded otherwise),
 * then the record blob, and the manifest last. A manifest PUT is atomic, so two
 * machines exporting to one ref at once leave one whole cache (the last one),
 * never a mix.
 */
export async function writeRegistryCache(
  client: RegistryClient,
  text: string,
  cache: CollectedCache,
  options: WriteCacheOptions,
): Promise<WrittenCache> {
  const target = parseReference(text);
  const parts = cacheParts(cache);
  let sent = 0;
  try {
    const results = await mapLimit(
      [...cache.blobs.values()],
      options.concurrency ?? 4,
      (blob, _index, signal) =>
        pushBlob(
          client,
          target,
          {
            digest: blob.descriptor.digest,
            size: blob.descriptor.size,
            open: () => blob.open(signal),
          },
          {
            signal,
            mountFrom: mountSources(blob, target.registry, target.repository),
            onProgress: (current, total) => {
              options.onProgress?.(blob.descriptor.digest, current, total, false);
            },
          },
        ).then((result) => {
          options.onProgress?.(
            blob.descriptor.digest,
            blob.descriptor.size,
            blob.descriptor.size,
            true,
          );
          return result;
        }),
      options.signal,
    );
    sent = results.filter((result) => result === 'uploaded').length;
    await pushBlob(
      client,
      target,
      { digest: parts.config.digest, size: parts.config.size, open: () => parts.configBytes },
      { signal: options.signal },
    );
    const manifest = cacheManifest(parts.config, parts.layers, options.imageManifest);
    const reference = target.tag ?? target.digest ?? 'latest';
    const digest = await putManifest(client, target, reference, manifest, options.signal);
    return { digest, records: cache.records.size, blobs: cache.blobs.size, sent };
  } catch (error) {
    throw exportError(error, text, options.signal);
  }
}

/**
 * Writes a cache to an OCI layout directory (`--cache-to type=local`): blobs
 * already there are kept (a later export sends only what changed), and
 * index.json, which names the cache, is replaced last and whole.
 */
export async function writeLocalCache(
  dir: string,
  cache: CollectedCache,
  options: WriteCacheOptions,
): Promise<WrittenCache> {
  const parts = cacheParts(cache);
  const blobDir = join(dir, 'blobs', 'sha256');
  try {
    await mkdir(blobDir, { recursive: true });
    const written = await mapLimit(
      [...cache.blobs.values()],
      options.concurrency ?? 4,
      async (blob, _index, signal) => {
        const path = join(blobDir, digestHex(blob.descriptor.digest));
        const existing = await stat(path).catch(() => undefined);
        if (existing?.size === blob.descriptor.size) return false;
        const temp = `${path}.tbuild-${String(process.pid)}-${String(Math.random()).slice(2, 8)}`;
        let current = 0;
        const source = blob.open(signal);
        source.on('data', (chunk: Buffer) => {
          current += chunk.length;
          options.onProgress?.(blob.descriptor.digest, current, blob.descriptor.size, false);
        });
        try {
          await pipeline(source, createWriteStream(temp), { signal });
          await rename(temp, path);
        } finally {
          await rm(temp, { force: true });
        }
        options.onProgress?.(
          blob.descriptor.digest,
          blob.descriptor.size,
          blob.descriptor.size,
          true,
        );
        return true;
      },
      options.signal,
    );
    const manifest = cacheManifest(parts.config, parts.layers, options.imageManifest);
    const manifestDigest = sha256Digest(manifest.bytes);
    await writeFile(join(blobDir, digestHex(parts.config.digest)), parts.configBytes);
    await writeFile(join(blobDir, digestHex(manifestDigest)), manifest.bytes);
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [
        {
          mediaType: manifest.mediaType,
          digest: manifestDigest,
          size: manifest.bytes.length,
          annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        },
      ],
    };
    const indexTemp = join(dir, `.index.json.tbuild-${String(process.pid)}`);
    await writeFile(indexTemp, JSON.stringify(index));
    await rename(indexTemp, join(dir, 'index.json'));
    return {
      digest: manifestDigest,
      records: cache.records.size,
      blobs: cache.blobs.size,
      sent: written.filter(Boolean).length,
    };
  } catch (error) {
    throw exportError(error, `local ${dir}`, options.signal);
  }
}

function cacheParts(cache: CollectedCache): {
  config: Descriptor;
  configBytes: Buffer;
  layers: Descriptor[];
} {
  const { config, bytes } = encodeCacheConfig(cache.records, cache.explanations, cache.cacheMounts);
  // Cache mount blobs are layers of the manifest too, so a registry keeps them.
  const layers = config.layers.map((layer) => layer.descriptor);
  for (const layer of Object.values(config.cacheMounts ?? {}))
    if (!layers.some((listed) => listed.digest === layer.descriptor.digest))
      layers.push(layer.descriptor);
  return {
    config: { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: sha256Digest(bytes), size: bytes.length },
    configBytes: bytes,
    layers,
  };
}

/** The imported cache's repository, when it is another repository of the same registry. */
function mountSources(blob: CacheBlob, registry: string, repository: string): string[] {
  const from = blob.from?.repository;
  if (from?.registry !== registry || from.repository === repository) return [];
  return [from.repository];
}

function exportError(error: unknown, where: string, signal: AbortSignal): TbuildError {
  const cause = toTbuildError(error);
  if (signal.aborted || isTbuildError(error, 'TB_CANCELED')) return cause;
  return new TbuildError('TB_CACHE_EXPORT', `exporting cache to ${where}: ${cause.message}`, {
    ...(cause.hint === undefined ? {} : { hint: cause.hint }),
    details: { ...cause.details, cache: where },
    cause,
  });
}
