import { stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import {
  digestHex,
  isDigest,
  throwIfAborted,
  type Descriptor,
  type Digest,
  type WriteFaults,
  type Logger,
} from '../../core/index.js';
import {
  encodeChecked,
  isNotFound,
  listDir,
  readChecked,
  removeIfExists,
  storeIoError,
  writeFileAtomic,
} from '../fs/atomic.js';
import type { StoreLayout } from '../layout.js';

/**
 * What a cache key resolves to. The store knows the references (a snapshot,
 * blobs) so GC can keep what a record needs; `data` is the worker's own JSON.
 */
export interface CacheRecord {
  /** A committed snapshot id. */
  readonly snapshot?: string;
  /** Blobs the result needs: layer blobs, a config, a manifest (manifests and indexes are walked by GC). */
  readonly blobs?: readonly Descriptor[];
  readonly data?: Readonly<Record<string, unknown>>;
  /** A line for `tbuild du` (e.g. the step's name). */
  readonly description?: string;
}

export interface StoredRecord extends CacheRecord {
  readonly key: Digest;
  readonly createdAt: number;
  /** When the record was last saved or loaded (the file's mtime). */
  readonly lastUsedAt: number;
}

function isDescriptor(value: unknown): value is Descriptor {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    isDigest(record['digest']) &&
    typeof record['size'] === 'number' &&
    typeof record['mediaType'] === 'string'
  );
}

function isStoredShape(value: unknown, key: Digest): value is Omit<StoredRecord, 'lastUsedAt'> {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  if (record['key'] !== key || typeof record['createdAt'] !== 'number') return false;
  if (record['snapshot'] !== undefined && typeof record['snapshot'] !== 'string') return false;
  const blobs = record['blobs'];
  return blobs === undefined || (Array.isArray(blobs) && blobs.every(isDescriptor));
}

/**
 * Cache keys → records, one checked-JSON file per key at
 * `index/keys/<hex>.json`, written by temp + rename so concurrent savers of one
 * key each leave a whole record (the last wins; both describe equal results).
 *
 * This is the simple form of BuildKit's link graph: the solver composes a key
 * from the op digest, its inputs' keys and content checksums, so key → record
 * answers every lookup it makes. The link form (input key + op + selector →
 * key) is needed only to export/import keys to a registry cache, and can be
 * added beside this without changing it.
 */
export interface CacheKeyIndexOptions {
  readonly layout: StoreLayout;
  readonly logger: Logger;
  /** fsync records before they become visible (default true). */
  readonly durable?: boolean;
  /** The test seam that fails chosen writes (see core/faults.ts). */
  readonly faults?: WriteFaults | undefined;
}

export class CacheKeyIndex {
  /** As constructed: a wrapper around this index is made with the same. */
  readonly options: CacheKeyIndexOptions;
  private readonly layout: StoreLayout;
  private readonly logger: Logger;
  private readonly durable: boolean;

  constructor(options: CacheKeyIndexOptions) {
    this.options = options;
    this.layout = options.layout;
    this.logger = options.logger;
    this.durable = options.durable ?? true;
  }

  private path(key: Digest): string {
    return join(this.layout.records, `${digestHex(key)}.json`);
  }

  async save(key: Digest, record: CacheRecord, signal: AbortSignal): Promise<StoredRecord> {
    throwIfAborted(signal);
    const stored = { ...record, key, createdAt: Date.now() };
    await writeFileAtomic(this.layout.tmp, this.path(key), encodeChecked(stored), {
      durable: this.durable,
      faults: this.options.faults,
    });
    return { ...stored, lastUsedAt: stored.createdAt };
  }

  /** The record, or undefined when absent or damaged. `touch` marks it used (for LRU prune). */
  async load(
    key: Digest,
    options: { readonly signal: AbortSignal; readonly touch?: boolean },
  ): Promise<StoredRecord | undefined> {
    throwIfAborted(options.signal);
    const path = this.path(key);
    const read = await readChecked(path);
    if (read.kind === 'corrupt') {
      this.logger.warn('cache record is damaged; treating it as a miss', {
        key,
        reason: read.reason,
      });
      await removeIfExists(path);
      return undefined;
    }
    if (read.kind !== 'ok' || !isStoredShape(read.value, key)) return undefined;
    let lastUsedAt = Date.now();
    try {
      if (options.touch !== false) {
        const now = new Date(lastUsedAt);
        await utimes(path, now, now);
      } else {
        lastUsedAt = (await stat(path)).mtimeMs;
      }
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storeIoError('touch', path, error);
    }
    return { ...read.value, lastUsedAt };
  }

  async delete(key: Digest): Promise<boolean> {
    return removeIfExists(this.path(key));
  }

  async keys(): Promise<Digest[]> {
    const names = await listDir(this.layout.records);
    return names
      .filter((name) => name.endsWith('.json'))
      .map((name) => `sha256:${name.slice(0, -'.json'.length)}`)
      .filter(isDigest);
  }

  async list(signal: AbortSignal): Promise<StoredRecord[]> {
    const found: StoredRecord[] = [];
    for (const key of await this.keys()) {
      const record = await this.load(key, { signal, touch: false });
      if (record !== undefined) found.push(record);
    }
    return found;
  }
}
