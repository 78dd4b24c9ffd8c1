import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  digestHex,
  sha256Digest,
  TbuildError,
  type Descriptor,
  type Digest,
} from '../../core/index.js';
import {
  fetchBlob,
  fetchBlobBytes,
  getManifest,
  parseManifest,
  parseReference,
  type ParsedManifest,
  type RegistryClient,
} from '../../registry-client/index.js';
import type { RemoteBlobSource, RemoteLayer, RemoteRef } from '../engine/index.js';
import { cacheParts, decodeCacheConfig, type CacheConfig } from './format.js';
import { readInlineCache } from './inline.js';
import type { CacheImportSpec } from './types.js';

/** One `--cache-from` source, read: its records by key, each resolving to a lazy result. */
export interface ImportedCache {
  /** The ref or directory, as shown on the steps it serves. */
  readonly name: string;
  readonly records: number;
  /** The explanations the cache carried, unchecked (ImportedExplanations.add skips bad ones). */
  readonly explanations: readonly unknown[];
  /** The layer holding cache mount `id`'s contents (`cache-mounts=true`), read lazily. */
  cacheMount(
    id: string,
  ): { readonly layer: RemoteLayer; open(signal: AbortSignal): Readable } | undefined;
  /** The result of `key`, known by its layers only; undefined when absent or its blobs failed. */
  lookup(key: Digest): RemoteRef | undefined;
}

export interface ImportOptions {
  /** The engine's registry client; a registry source without one cannot be read. */
  readonly client: RegistryClient | undefined;
  readonly signal: AbortSignal;
}

/**
 * Reads a cache's manifest and record blob (never a layer): a registry ref
 * (the default image-manifest form, the index form, or an image pushed with an
 * inline cache) or an OCI layout directory written by `--cache-to type=local`.
 */
export async function importCache(
  spec: CacheImportSpec,
  options: ImportOptions,
): Promise<ImportedCache> {
  if (spec.type === 'registry') return importFromRegistry(spec.ref, options);
  return importFromDirectory(spec.src, spec.digest, options.signal);
}

async function importFromRegistry(text: string, options: ImportOptions): Promise<ImportedCache> {
  const client = options.client;
  if (client === undefined)
    throw new TbuildError('TB_CACHE_IMPORT', `cache ${text}: no registry access is configured`);
  const ref = parseReference(text);
  const fetched = await getManifest(client, ref, options.signal);
  const readBlob = (descriptor: Descriptor): Promise<Buffer> =>
    fetchBlobBytes(client, ref, descriptor, {
      signal: options.signal,
      maxBytes: Number.MAX_SAFE_INTEGER,
    });
  const source: Omit<RemoteBlobSource, 'discard'> = {
    name: text,
    repository: { registry: ref.registry, repository: ref.repository },
    open: (descriptor, signal): Readable => fetchBlob(client, ref, descriptor, { signal }),
  };
  return readCache(fetched.parsed, readBlob, source, text);
}

async function importFromDirectory(
  dir: string,
  digest: string | undefined,
  signal: AbortSignal,
): Promise<ImportedCache> {
  const name = `local ${dir}`;
  const blobPath = (blob: Digest): string => join(dir, 'blobs', 'sha256', digestHex(blob));
  const readBlob = async (descriptor: Descriptor): Promise<Buffer> => {
    signal.throwIfAborted();
    const bytes = await readFile(blobPath(descriptor.digest)).catch((error: unknown) => {
      throw new TbuildError(
        'TB_CACHE_IMPORT',
        `cache ${name}: cannot read blob ${descriptor.digest}`,
        {
          cause: error,
        },
      );
    });
    if (sha256Digest(bytes) !== descriptor.digest)
      throw new TbuildError(
        'TB_CACHE_IMPORT',
        `cache ${name}: blob ${descriptor.digest} is damaged`,
      );
    return bytes;
  };
  const indexBytes = await readFile(join(dir, 'index.json')).catch((error: unknown) => {
    throw new TbuildError('TB_CACHE_IMPORT', `cache ${name}: no index.json (${String(error)})`, {
      cause: error,
    });
  });
  const index = parseManifest(indexBytes, undefined, `${dir}/index.json`);
  if (index.kind !== 'index')
    throw new TbuildError('TB_CACHE_IMPORT', `cache ${name}: index.json is not an OCI index`);
  const entry =
    digest === undefined
      ? index.index.manifests.at(-1)
      : index.index.manifests.find((candidate) => candidate.digest === digest);
  if (entry === undefined)
    throw new TbuildError(
      'TB_CACHE_IMPORT',
      `cache ${name}: ${digest === undefined ? 'index.json lists no cache' : `no cache ${digest} in index.json`}`,
    );
  const manifest = parseManifest(await readBlob(entry), entry.mediaType, `${dir} ${entry.digest}`);
  const source: Omit<RemoteBlobSource, 'discard'> = {
    name,
    open: (descriptor): Readable => createReadStream(blobPath(descriptor.digest)),
  };
  return readCache(manifest, readBlob, source, name);
}

async function readCache(
  manifest: ParsedManifest,
  readBlob: (descriptor: Descriptor) => Promise<Buffer>,
  source: Omit<RemoteBlobSource, 'discard'>,
  name: string,
): Promise<ImportedCache> {
  const parts = cacheParts(manifest);
  let config: CacheConfig | undefined;
  if (parts !== undefined) config = decodeCacheConfig(await readBlob(parts.config), name);
  else if (manifest.kind === 'manifest')
    config = readInlineCache(manifest.manifest.layers, await readBlob(manifest.manifest.config));
  if (config === undefined)
    throw new TbuildError(
      'TB_CACHE_IMPORT',
      `cache ${name} is not a tbuild cache (neither a cache manifest nor an image with an inline cache)`,
    );
  return new LazyCache(config, source);
}

/** Records of one imported cache; a blob found bad withdraws every record using it. */
class LazyCache implements ImportedCache {
  readonly name: string;
  readonly records: number;
  readonly explanations: readonly unknown[];
  readonly #cacheMounts: Readonly<Record<string, RemoteLayer>>;
  readonly #layers: readonly RemoteLayer[];
  readonly #byKey = new Map<Digest, readonly number[]>();
  readonly #bad = new Set<Digest>();
  readonly #source: RemoteBlobSource;

  constructor(config: CacheConfig, source: Omit<RemoteBlobSource, 'discard'>) {
    this.name = source.name;
    this.#layers = config.layers;
    for (const record of config.records) this.#byKey.set(record.key, record.layers);
    this.records = this.#byKey.size;
    this.explanations = config.explanations ?? [];
    this.#cacheMounts = config.cacheMounts ?? {};
    this.#source = {
      ...source,
      discard: (blob) => {
        this.#bad.add(blob);
      },
    };
  }

  cacheMount(
    id: string,
  ): { readonly layer: RemoteLayer; open(signal: AbortSignal): Readable } | undefined {
    if (!Object.hasOwn(this.#cacheMounts, id)) return undefined;
    const layer = this.#cacheMounts[id] as RemoteLayer;
    return { layer, open: (signal) => this.#source.open(layer.descriptor, signal) };
  }

  lookup(key: Digest): RemoteRef | undefined {
    const indexes = this.#byKey.get(key);
    if (indexes === undefined) return undefined;
    const layers = indexes.map((at) => this.#layers[at] as RemoteLayer);
    if (layers.some((layer) => this.#bad.has(layer.descriptor.digest))) return undefined;
    return { kind: 'remote', layers, source: this.#source };
  }
}
