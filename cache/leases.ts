import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  TbuildError,
  isDigest,
  type Digest,
  type Logger,
  type WriteFaults,
} from '../core/index.js';
import {
  encodeChecked,
  readChecked,
  removeIfExists,
  listDir,
  writeFileAtomic,
} from './fs/atomic.js';
import type { PruneFence } from './gc/prune-fence.js';
import {
  currentOwner,
  isOwnerAlive,
  isProcessOwner,
  type ProcessOwner,
} from './fs/process-owner.js';
import type { StoreLayout } from './layout.js';

/** What a lease keeps from GC. */
export interface LeaseResources {
  readonly blobs?: readonly Digest[];
  readonly snapshots?: readonly string[];
  readonly records?: readonly Digest[];
}

export interface LeaseRecord {
  readonly id: string;
  readonly owner: ProcessOwner;
  readonly createdAt: number;
  /** After this time the lease no longer protects anything, even if its process runs. */
  readonly expiresAt?: number;
  readonly blobs: readonly Digest[];
  readonly snapshots: readonly string[];
  readonly records: readonly Digest[];
}

export function isLeaseLive(lease: LeaseRecord, now: number): boolean {
  return (lease.expiresAt === undefined || lease.expiresAt > now) && isOwnerAlive(lease.owner);
}

function isLeaseRecord(value: unknown): value is LeaseRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record['id'] === 'string' &&
    isProcessOwner(record['owner']) &&
    Array.isArray(record['blobs']) &&
    Array.isArray(record['snapshots']) &&
    Array.isArray(record['records'])
  );
}

const LEASE_ID = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * A build's claim on what it uses, after containerd's leases: while the lease
 * lives (its process runs and it has not expired), GC keeps every blob,
 * snapshot and record it names. An add is written, then waits out a running
 * prune (PruneFence), so GC either sees the add or finishes first; a caller
 * therefore adds *then* checks that the thing still exists.
 */
export class Lease {
  private record: LeaseRecord;
  private readonly manager: LeaseManager;

  constructor(record: LeaseRecord, manager: LeaseManager) {
    this.record = record;
    this.manager = manager;
  }

  get id(): string {
    return this.record.id;
  }

  get resources(): LeaseRecord {
    return this.record;
  }

  async add(resources: LeaseResources, signal: AbortSignal): Promise<void> {
    const merge = <T>(have: readonly T[], more: readonly T[] | undefined): T[] => [
      ...new Set([...have, ...(more ?? [])]),
    ];
    const next: LeaseRecord = {
      ...this.record,
      blobs: merge(this.record.blobs, resources.blobs),
      snapshots: merge(this.record.snapshots, resources.snapshots),
      records: merge(this.record.records, resources.records),
    };
    const grew =
      next.blobs.length !== this.record.blobs.length ||
      next.snapshots.length !== this.record.snapshots.length ||
      next.records.length !== this.record.records.length;
    if (!grew) return;
    this.record = next;
    await this.manager.write(next, signal);
  }

  /** Ends the lease; what it held becomes collectable unless something else refers to it. */
  async release(): Promise<void> {
    await this.manager.remove(this.record.id);
  }
}

export class LeaseManager {
  private readonly layout: StoreLayout;
  private readonly fence: PruneFence;
  private readonly lockTimeoutMs: number;
  private readonly logger: Logger;
  private readonly faults: WriteFaults | undefined;

  constructor(options: {
    layout: StoreLayout;
    fence: PruneFence;
    lockTimeoutMs: number;
    logger: Logger;
    /** The test seam that fails chosen writes (see core/faults.ts). */
    faults?: WriteFaults | undefined;
  }) {
    this.faults = options.faults;
    this.layout = options.layout;
    this.fence = options.fence;
    this.lockTimeoutMs = options.lockTimeoutMs;
    this.logger = options.logger;
  }

  async create(options: {
    readonly signal: AbortSignal;
    readonly id?: string;
    /** Lifetime in ms; by default the lease lives as long as this process. */
    readonly expiresInMs?: number;
  }): Promise<Lease> {
    const id = options.id ?? `${String(process.pid)}-${randomBytes(6).toString('hex')}`;
    if (!LEASE_ID.test(id)) {
      throw new TbuildError('TB_STORE_ARGUMENT', `invalid lease id ${JSON.stringify(id)}`, {
        hint: 'lease ids are 1–100 letters, digits, dots, dashes or underscores',
      });
    }
    const now = Date.now();
    const record: LeaseRecord = {
      id,
      owner: currentOwner(),
      createdAt: now,
      ...(options.expiresInMs === undefined ? {} : { expiresAt: now + options.expiresInMs }),
      blobs: [],
      snapshots: [],
      records: [],
    };
    await this.write(record, options.signal);
    return new Lease(record, this);
  }

  /** @internal Used by Lease. */
  async write(record: LeaseRecord, signal: AbortSignal): Promise<void> {
    await writeFileAtomic(this.layout.tmp, this.path(record.id), encodeChecked(record), {
      durable: false,
      faults: this.faults,
    });
    // On disk first, then the check: a prune either reads this lease or is waited out.
    await this.fence.wait(signal, this.lockTimeoutMs);
  }

  /** @internal Used by Lease. */
  async remove(id: string): Promise<void> {
    await removeIfExists(this.path(id));
  }

  /** Every lease on disk, live or not. Damaged files are removed (they protect nothing). */
  async list(): Promise<LeaseRecord[]> {
    const names = await listDir(this.layout.leases);
    const found: LeaseRecord[] = [];
    for (const name of names.filter((entry) => entry.endsWith('.json'))) {
      const path = join(this.layout.leases, name);
      const read = await readChecked(path);
      if (read.kind === 'ok' && isLeaseRecord(read.value)) {
        found.push({
          ...read.value,
          blobs: read.value.blobs.filter(isDigest),
          records: read.value.records.filter(isDigest),
        });
      } else if (read.kind === 'corrupt') {
        this.logger.warn('removing a damaged lease file', { path, reason: read.reason });
        await removeIfExists(path);
      }
    }
    return found;
  }

  private path(id: string): string {
    return join(this.layout.leases, `${id}.json`);
  }
}
