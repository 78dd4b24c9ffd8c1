import type { Readable } from 'node:stream';
import { neverAborted, sha256Digest, type Digest, type Logger } from '../../core/index.js';
import {
  CacheKeyIndex,
  FsSnapshotter,
  type ActiveSnapshot,
  type BlobInfo,
  type CacheRecord,
  type CommitOptions,
  type CommittedSnapshot,
  type ContentStore,
  type Lease,
  type LeaseResources,
  type ReadOptions,
  type StoredRecord,
  type TbuildStore,
  type WriteOptions,
  type WriteResult,
} from '../../cache/index.js';

/**
 * The store as one build sees it: every record, snapshot and blob the build
 * reads or writes is added to the build's lease first, so a `tbuild prune`
 * running meanwhile (which holds the store lock from mark to sweep, as lease
 * writes do) either sees the lease or has finished before the build looks.
 * The rule of docs/dev/storage.md: add to the lease, then check it exists.
 */
export function leasedStore(
  store: TbuildStore,
  lease: Lease,
  options: { readonly logger: Logger },
): TbuildStore {
  const writer = new LeaseWriter(lease);
  const { logger } = options;
  // The store's own settings (durability, directory listing), with this logger.
  return {
    ...store,
    content: new LeasedContent(store.content, writer),
    snapshots: new LeasedSnapshotter({ ...store.snapshots.options, logger }, writer),
    records: new LeasedRecords({ ...store.records.options, logger }, writer),
  };
}

/**
 * Coalesces lease adds: while one write runs, later adds gather into the next
 * one, so a wide build takes the store lock a few times rather than per step.
 */
class LeaseWriter {
  private readonly lease: Lease;
  private pending = {
    blobs: new Set<Digest>(),
    snapshots: new Set<string>(),
    records: new Set<Digest>(),
  };
  private batch: Promise<void> | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(lease: Lease) {
    this.lease = lease;
  }

  async add(resources: LeaseResources): Promise<void> {
    const held = this.lease.resources;
    const fresh = <T>(
      items: readonly T[] | undefined,
      have: readonly T[],
      into: Set<T>,
    ): number => {
      let count = 0;
      for (const item of items ?? []) {
        if (!have.includes(item)) {
          into.add(item);
          count += 1;
        }
      }
      return count;
    };
    const added =
      fresh(resources.blobs, held.blobs, this.pending.blobs) +
      fresh(resources.snapshots, held.snapshots, this.pending.snapshots) +
      fresh(resources.records, held.records, this.pending.records);
    if (added === 0) return;
    this.batch ??= this.flush();
    await this.batch;
  }

  private flush(): Promise<void> {
    const previous = this.inFlight;
    const run = async (): Promise<void> => {
      await previous?.catch(() => undefined);
      const taken = this.pending;
      this.pending = { blobs: new Set(), snapshots: new Set(), records: new Set() };
      this.batch = undefined;
      // Not the caller's signal: a batch serves many steps; the lock wait is bounded by its timeout.
      await this.lease.add(
        { blobs: [...taken.blobs], snapshots: [...taken.snapshots], records: [...taken.records] },
        neverAborted,
      );
    };
    const running = run();
    this.inFlight = running;
    return running;
  }
}

class LeasedContent implements ContentStore {
  private readonly inner: ContentStore;
  private readonly writer: LeaseWriter;

  constructor(inner: ContentStore, writer: LeaseWriter) {
    this.inner = inner;
    this.writer = writer;
  }

  private withLease(options: WriteOptions): WriteOptions {
    const before = options.beforeCommit;
    return {
      ...options,
      beforeCommit: async (digest, signal) => {
        await this.writer.add({ blobs: [digest] });
        await before?.(digest, signal);
      },
    };
  }

  async readStream(digest: Digest, options: ReadOptions): Promise<Readable> {
    await this.writer.add({ blobs: [digest] });
    return this.inner.readStream(digest, options);
  }

  async readBuffer(digest: Digest, options: ReadOptions): Promise<Buffer> {
    await this.writer.add({ blobs: [digest] });
    return this.inner.readBuffer(digest, options);
  }

  async writeBuffer(data: Uint8Array, options: WriteOptions): Promise<WriteResult> {
    // An existing copy is reused without a commit, so lease the digest before looking.
    await this.writer.add({ blobs: [sha256Digest(data)] });
    return this.inner.writeBuffer(data, this.withLease(options));
  }

  async writeStream(source: Readable, options: WriteOptions): Promise<WriteResult> {
    const expected = options.expected?.digest;
    if (expected !== undefined) await this.writer.add({ blobs: [expected] });
    return this.inner.writeStream(source, this.withLease(options));
  }

  info(digest: Digest): Promise<BlobInfo | undefined> {
    return this.inner.info(digest);
  }

  verify(digest: Digest, options: ReadOptions): Promise<boolean> {
    return this.inner.verify(digest, options);
  }

  delete(digest: Digest): Promise<boolean> {
    return this.inner.delete(digest);
  }

  walk(visit: (info: BlobInfo) => void | Promise<void>, options: ReadOptions): Promise<void> {
    return this.inner.walk(visit, options);
  }
}

class LeasedSnapshotter extends FsSnapshotter {
  private readonly writer: LeaseWriter;

  constructor(options: ConstructorParameters<typeof FsSnapshotter>[0], writer: LeaseWriter) {
    super(options);
    this.writer = writer;
  }

  override async prepare(options: {
    readonly parent?: string;
    readonly signal: AbortSignal;
  }): Promise<ActiveSnapshot> {
    if (options.parent !== undefined) await this.writer.add({ snapshots: [options.parent] });
    return super.prepare(options);
  }

  override commit(id: string, options: CommitOptions): Promise<CommittedSnapshot> {
    const before = options.beforeCommit;
    return super.commit(id, {
      ...options,
      beforeCommit: async (committing, signal) => {
        await this.writer.add({ snapshots: [committing] });
        await before?.(committing, signal);
      },
    });
  }

  override async chain(id: string): Promise<CommittedSnapshot[]> {
    // A leased snapshot keeps its ancestors too (GC follows parents).
    await this.writer.add({ snapshots: [id] });
    return super.chain(id);
  }
}

class LeasedRecords extends CacheKeyIndex {
  private readonly writer: LeaseWriter;

  constructor(options: ConstructorParameters<typeof CacheKeyIndex>[0], writer: LeaseWriter) {
    super(options);
    this.writer = writer;
  }

  override async save(
    key: Digest,
    record: CacheRecord,
    signal: AbortSignal,
  ): Promise<StoredRecord> {
    await this.writer.add({
      records: [key],
      ...(record.snapshot === undefined ? {} : { snapshots: [record.snapshot] }),
    });
    return super.save(key, record, signal);
  }

  override async load(
    key: Digest,
    options: { readonly signal: AbortSignal; readonly touch?: boolean },
  ): Promise<StoredRecord | undefined> {
    await this.writer.add({ records: [key] });
    return super.load(key, options);
  }
}
