import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError, throwIfAborted, type Logger, type WriteFaults } from '../../core/index.js';
import {
  encodeChecked,
  errnoCode,
  isNotFound,
  listDir,
  readChecked,
  removeIfExists,
  storeIoError,
  writeFileAtomic,
} from '../fs/atomic.js';
import {
  currentOwner,
  isOwnerAlive,
  isProcessOwner,
  tempNameFor,
  type ProcessOwner,
} from '../fs/process-owner.js';
import { removeTree } from '../fs/remove-tree.js';
import type { StoreLayout } from '../layout.js';
import { markTopDirectory } from './spread-hint.js';
import { summarizeTree, type DirectoryLister, type TreeSummary } from './tree-digest.js';
import {
  MAX_CHAIN_DEPTH,
  type ActiveSnapshot,
  type CommittedSnapshot,
  type OverlayMount,
} from './types.js';

export interface FsSnapshotterOptions {
  readonly layout: StoreLayout;
  readonly logger: Logger;
  readonly durable?: boolean;
  /** The test seam that fails chosen writes (see core/faults.ts). */
  readonly faults?: WriteFaults | undefined;
  /** How commit and verify list directories (default node:fs; see DirectoryLister). */
  readonly listDirectory?: DirectoryLister;
}

export interface CommitOptions {
  readonly signal: AbortSignal;
  readonly labels?: Readonly<Record<string, string>>;
  /** Hash file contents into the commit record (slower; lets `verify` catch changed bytes). */
  readonly hashContent?: boolean;
  /** Runs with the id before the snapshot becomes visible (a lease add). */
  readonly beforeCommit?: (id: string, signal: AbortSignal) => Promise<void>;
}

export interface ActiveOwner {
  readonly id: string;
  readonly parent?: string;
  readonly owner?: ProcessOwner;
  /** mtime of the active directory, for owners not yet recorded. */
  readonly since: number;
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** Ids are six characters so 500 of them (with `:`) fit in a page of mount options. */
const ID_PATTERN = /^[a-z0-9]{6}$/;

function newId(): string {
  return [...randomBytes(6)].map((byte) => ID_ALPHABET[byte % ID_ALPHABET.length]).join('');
}

export function isSnapshotId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

function notFound(id: string, state: string): TbuildError {
  return new TbuildError('TB_SNAPSHOT_NOT_FOUND', `no ${state} snapshot ${id}`, {
    details: { id, state },
  });
}

function isCommitted(value: unknown): value is CommittedSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    record['kind'] === 'committed' &&
    isSnapshotId(record['id']) &&
    typeof record['depth'] === 'number' &&
    typeof record['tree'] === 'object'
  );
}

/**
 * Snapshots as directories under `<root>/v1/s/`:
 *   `<id>/`                    a committed layer (overlay upperdir form)
 *   `_meta/<id>.json`          its commit record (checked JSON), written last
 *   `_active/<id>/{fs,work}`   an active snapshot, with `owner.json` naming its process
 *   `_trash/`                  trees being deleted
 * (`_` is outside the id alphabet, so no id names one of these.)
 */
export class FsSnapshotter {
  private readonly layout: StoreLayout;
  private readonly logger: Logger;
  private readonly durable: boolean;
  /** As constructed: a wrapper around this snapshotter is made with the same. */
  readonly options: FsSnapshotterOptions;
  readonly #listing: { list?: DirectoryLister };
  /** Set once per process, before the first snapshot tree is made (see markTopDirectory). */
  private topDirectoryHint: Promise<void> | undefined;
  /** Snapshots this instance committed or found intact (see ensureIntact). */
  private readonly intact = new Map<string, Promise<void>>();
  /**
   * Commit records this instance wrote or walked through in `chain`. A record
   * never changes once written, and what an engine reads is leased, so no
   * other process removes it meanwhile: each step's mount then reads only
   * its new layer's record, not the whole chain again (40 reads at depth 40).
   */
  private readonly chained = new Map<string, CommittedSnapshot>();

  constructor(options: FsSnapshotterOptions) {
    this.options = options;
    this.layout = options.layout;
    this.logger = options.logger;
    this.durable = options.durable ?? true;
    this.#listing = options.listDirectory === undefined ? {} : { list: options.listDirectory };
  }

  /** The directory of a committed snapshot (its overlay lowerdir). */
  path(id: string): string {
    return join(this.layout.snapshots, id);
  }

  async prepare(options: {
    readonly parent?: string;
    readonly signal: AbortSignal;
  }): Promise<ActiveSnapshot> {
    throwIfAborted(options.signal);
    const chain = options.parent === undefined ? [] : await this.chain(options.parent);
    if (chain.length >= MAX_CHAIN_DEPTH) {
      // Refused here, before anything is written: a step on this parent would make a
      // layer no overlay can mount (the solver names the step, the CLI its line).
      throw new TbuildError(
        'TB_SNAPSHOT_STATE',
        `too many layers: this step would make layer ${String(chain.length + 1)}, and overlayfs stacks at most ${String(MAX_CHAIN_DEPTH)}`,
        {
          hint: 'combine RUN steps (cmd1 && cmd2), or start a stage from a squashed image',
          details: {
            parent: options.parent ?? '',
            depth: chain.length + 1,
            limit: MAX_CHAIN_DEPTH,
          },
        },
      );
    }
    const record = {
      ...(options.parent === undefined ? {} : { parent: options.parent }),
      owner: currentOwner(),
    };
    // Built whole in tmp (named by pid, so cleanup finds it if we die), then renamed
    // into place: an active snapshot is never seen without its owner record.
    this.topDirectoryHint ??= markTopDirectory(
      this.layout.tmp,
      `${this.layout.tmp}.top-directory-hint`,
      this.logger,
    );
    await this.topDirectoryHint;
    const staging = join(this.layout.tmp, tempNameFor());
    try {
      await mkdir(join(staging, 'fs'), { recursive: true });
      await mkdir(join(staging, 'work'));
      this.options.faults?.write(join(staging, 'owner.json'));
      await writeFile(join(staging, 'owner.json'), encodeChecked(record));
    } catch (error) {
      // A full disk here leaves nothing behind: the staging dir goes with the error.
      await rm(staging, { recursive: true, force: true });
      throw storeIoError('create', staging, error);
    }
    for (;;) {
      const id = newId();
      if (await exists(this.path(id))) continue;
      try {
        // Fails with ENOTEMPTY/EEXIST when another process holds this id (active dirs are never empty).
        await rename(staging, join(this.layout.snapshotActive, id));
      } catch (error) {
        const code = errnoCode(error);
        if (code === 'ENOTEMPTY' || code === 'EEXIST') continue;
        await rm(staging, { recursive: true, force: true });
        throw storeIoError('create', join(this.layout.snapshotActive, id), error);
      }
      return this.active(id, options.parent, chain);
    }
  }

  private active(
    id: string,
    parent: string | undefined,
    chain: readonly CommittedSnapshot[],
  ): ActiveSnapshot {
    const upperdir = join(this.layout.snapshotActive, id, 'fs');
    const workdir = join(this.layout.snapshotActive, id, 'work');
    const relative = chain.map((layer) => layer.id);
    const mount: OverlayMount =
      relative.length === 0
        ? { cwd: this.layout.snapshots }
        : {
            cwd: this.layout.snapshots,
            options: `lowerdir=${relative.join(':')},upperdir=_active/${id}/fs,workdir=_active/${id}/work`,
          };
    return {
      kind: 'active',
      id,
      ...(parent === undefined ? {} : { parent }),
      upperdir,
      workdir,
      lowerdirs: relative.map((layer) => this.path(layer)),
      mount,
    };
  }

  async commit(id: string, options: CommitOptions): Promise<CommittedSnapshot> {
    throwIfAborted(options.signal);
    const dir = join(this.layout.snapshotActive, id);
    const owner = await readChecked(join(dir, 'owner.json'));
    if (owner.kind !== 'ok') throw notFound(id, 'active');
    const parent = (owner.value as { parent?: unknown }).parent;
    const parentInfo = isSnapshotId(parent)
      ? (this.chained.get(parent) ?? (await this.get(parent)))
      : undefined;
    if (isSnapshotId(parent) && parentInfo === undefined) throw notFound(parent, 'committed');
    const tree = await summarizeTree(join(dir, 'fs'), {
      content: options.hashContent ?? false,
      signal: options.signal,
      ...this.#listing,
    });
    const record: CommittedSnapshot = {
      kind: 'committed',
      id,
      ...(parentInfo === undefined ? {} : { parent: parentInfo.id }),
      depth: (parentInfo?.depth ?? 0) + 1,
      createdAt: Date.now(),
      tree,
      labels: options.labels ?? {},
    };
    await options.beforeCommit?.(id, options.signal);
    await rename(join(dir, 'fs'), this.path(id)).catch((error: unknown) => {
      throw storeIoError('commit', this.path(id), error);
    });
    // The record is the commit marker: written last, so a crash before it leaves
    // a directory that is never used and that GC removes.
    await writeFileAtomic(this.layout.tmp, this.metaPath(id), encodeChecked(record), {
      durable: this.durable,
      faults: this.options.faults,
    });
    await removeTree(dir, this.layout.snapshotTrash);
    this.intact.set(id, Promise.resolve());
    this.chained.set(id, record);
    return record;
  }

  /**
   * Verifies each layer of `id`'s chain once per instance, before something
   * reads it (a mount, a copy, a layer tar): TB_SNAPSHOT_CORRUPT when one
   * changed, after verify dropped its record. Checked on use rather than on
   * every cache hit, so a hit whose snapshots are never read (an image whose
   * layer blobs exist) costs no tree walk; a caller that meets the error can
   * solve again, and the steps whose records were dropped then run again.
   */
  async ensureIntact(id: string, options: { readonly signal: AbortSignal }): Promise<void> {
    for (const layer of await this.chain(id)) {
      let check = this.intact.get(layer.id);
      if (check === undefined) {
        check = this.verify(layer.id, options).then(() => undefined);
        this.intact.set(layer.id, check);
        // A failed check is not remembered: the next caller gets the error afresh.
        check.catch(() => this.intact.delete(layer.id));
      }
      await check;
    }
  }

  /** Drops an active snapshot and what was written to it. */
  async abort(id: string): Promise<void> {
    await removeTree(join(this.layout.snapshotActive, id), this.layout.snapshotTrash);
  }

  /** The commit record, or undefined when the snapshot is absent, half-written or its record is damaged. */
  async get(id: string): Promise<CommittedSnapshot | undefined> {
    if (!isSnapshotId(id)) return undefined;
    const read = await readChecked(this.metaPath(id));
    if (read.kind === 'corrupt') {
      this.logger.warn('snapshot record is damaged; ignoring the snapshot', {
        id,
        reason: read.reason,
      });
      return undefined;
    }
    if (read.kind !== 'ok' || !isCommitted(read.value) || read.value.id !== id) return undefined;
    if (!(await exists(this.path(id)))) return undefined;
    return read.value;
  }

  /** The snapshot and its ancestors, top first. TB_SNAPSHOT_NOT_FOUND when any is missing. */
  async chain(id: string): Promise<CommittedSnapshot[]> {
    const chain: CommittedSnapshot[] = [];
    let next: string | undefined = id;
    while (next !== undefined) {
      const info: CommittedSnapshot | undefined = this.chained.get(next) ?? (await this.get(next));
      if (info === undefined) throw notFound(next, 'committed');
      this.chained.set(next, info);
      chain.push(info);
      next = info.parent;
      if (chain.length > MAX_CHAIN_DEPTH) {
        throw new TbuildError('TB_SNAPSHOT_STATE', `snapshot chain of ${id} is too deep`);
      }
    }
    return chain;
  }

  /** Absolute lowerdirs for an overlay mount of `id` read-only, top first. */
  async lowerDirs(id: string): Promise<string[]> {
    return (await this.chain(id)).map((layer) => this.path(layer.id));
  }

  /**
   * Re-summarises the directory and compares it with the commit record. A
   * mismatch throws TB_SNAPSHOT_CORRUPT after dropping the record, so the
   * snapshot (and every chain through it) is never used again and GC frees it.
   */
  async verify(id: string, options: { readonly signal: AbortSignal }): Promise<CommittedSnapshot> {
    const info = await this.get(id);
    if (info === undefined) throw notFound(id, 'committed');
    let found: TreeSummary | undefined;
    try {
      found = await summarizeTree(this.path(id), {
        content: info.tree.content,
        signal: options.signal,
        ...this.#listing,
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (found?.digest === info.tree.digest) return info;
    this.chained.delete(id);
    await removeIfExists(this.metaPath(id));
    this.logger.warn('snapshot does not match its commit record; dropped it', { id });
    throw new TbuildError('TB_SNAPSHOT_CORRUPT', `snapshot ${id} changed since it was committed`, {
      hint: 'the snapshot was dropped; the step that made it runs again',
      details: { id, expected: info.tree, found },
    });
  }

  /**
   * Drops the commit record of a snapshot found changed by a check other than
   * verify's (a layer tar whose diffID differs from the one recorded when the
   * layer was first made), as verify does on a mismatch: the snapshot and every
   * chain through it count as missing, so the steps that made them run again.
   * Returns the TB_SNAPSHOT_CORRUPT error for the caller to throw.
   */
  async discard(
    id: string,
    why: string,
    details: Readonly<Record<string, unknown>>,
  ): Promise<TbuildError> {
    this.chained.delete(id);
    this.intact.delete(id);
    await removeIfExists(this.metaPath(id));
    this.logger.warn('snapshot changed since it was committed; dropped it', { id, why });
    return new TbuildError(
      'TB_SNAPSHOT_CORRUPT',
      `snapshot ${id} changed since it was committed: ${why}`,
      {
        hint: 'the snapshot was dropped; the step that made it runs again',
        details: { id, ...details },
      },
    );
  }

  /** Removes a committed snapshot. TB_SNAPSHOT_STATE if another committed snapshot has it as parent. */
  async remove(id: string, options: { readonly force?: boolean } = {}): Promise<boolean> {
    if (options.force !== true) {
      const child = (await this.list()).find((snapshot) => snapshot.parent === id);
      if (child !== undefined) {
        throw new TbuildError('TB_SNAPSHOT_STATE', `snapshot ${id} is the parent of ${child.id}`, {
          details: { id, child: child.id },
        });
      }
    }
    this.chained.delete(id);
    this.intact.delete(id);
    // Marker first: from here on the snapshot is not committed, whatever happens next.
    const hadRecord = await removeIfExists(this.metaPath(id));
    const hadDir = await removeTree(this.path(id), this.layout.snapshotTrash);
    return hadRecord || hadDir;
  }

  /** Every committed snapshot with a valid record. */
  async list(): Promise<CommittedSnapshot[]> {
    const ids = (await listDir(this.layout.snapshotMeta))
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -'.json'.length));
    const found: CommittedSnapshot[] = [];
    for (const id of ids) {
      const info = await this.get(id);
      if (info !== undefined) found.push(info);
    }
    return found;
  }

  /** Directory names under `s/` that look like snapshots, committed or not (for GC). */
  async listDirs(): Promise<string[]> {
    return (await listDir(this.layout.snapshots)).filter(isSnapshotId);
  }

  async listActive(): Promise<ActiveOwner[]> {
    const found: ActiveOwner[] = [];
    for (const id of (await listDir(this.layout.snapshotActive)).filter(isSnapshotId)) {
      const dir = join(this.layout.snapshotActive, id);
      const since = await stat(dir).then(
        (stats) => stats.mtimeMs,
        () => undefined,
      );
      if (since === undefined) continue;
      const read = await readChecked(join(dir, 'owner.json'));
      const value = read.kind === 'ok' ? (read.value as { parent?: unknown; owner?: unknown }) : {};
      found.push({
        id,
        since,
        ...(isSnapshotId(value.parent) ? { parent: value.parent } : {}),
        ...(isProcessOwner(value.owner) ? { owner: value.owner } : {}),
      });
    }
    return found;
  }

  /** True while the process that prepared an active snapshot runs (or it was made in the last minute). */
  isActiveLive(active: ActiveOwner): boolean {
    if (active.owner === undefined) return Date.now() - active.since < 60_000;
    return isOwnerAlive(active.owner);
  }

  private metaPath(id: string): string {
    return join(this.layout.snapshotMeta, `${id}.json`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw storeIoError('stat', path, error);
  }
}
