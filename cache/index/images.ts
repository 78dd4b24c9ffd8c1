import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  TbuildError,
  isDigest,
  type Descriptor,
  type Digest,
  type Logger,
  type WriteFaults,
} from '../../core/index.js';
import {
  encodeChecked,
  readChecked,
  removeIfExists,
  listDir,
  writeFileAtomic,
} from '../fs/atomic.js';
import type { StoreLayout } from '../layout.js';

/**
 * A name in the local image store and what it points at: a manifest (or
 * index), or an image description (image-description.ts) for an image built
 * here whose layers are not compressed until something needs them.
 */
export interface ImageRecord {
  readonly name: string;
  readonly target: Descriptor;
  /**
   * Manifests made of a description target so far (a push, `tbuild push`
   * later), each with its layer blobs: kept while the name is, so a layer is
   * not compressed twice for the same settings.
   */
  readonly manifests?: readonly Descriptor[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

function isImageRecord(value: unknown): value is ImageRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  const target = record['target'] as Record<string, unknown> | undefined;
  return (
    typeof record['name'] === 'string' &&
    typeof target === 'object' &&
    isDigest(target['digest']) &&
    typeof target['mediaType'] === 'string' &&
    (record['manifests'] === undefined || Array.isArray(record['manifests']))
  );
}

/**
 * The local image store: image names → manifest descriptors, so a later
 * `FROM name` finds what an earlier build produced. One checked-JSON file per
 * name at `index/images/<sha256 of name>.json` (names hold `/` and `:`), the
 * name kept inside. Tagging is an atomic replace; the manifest and what it
 * references live in the content store, which GC keeps while a name points there.
 */
export class ImageStore {
  private readonly layout: StoreLayout;
  private readonly logger: Logger;
  private readonly durable: boolean;
  private readonly faults: WriteFaults | undefined;

  constructor(options: {
    layout: StoreLayout;
    logger: Logger;
    durable?: boolean;
    /** The test seam that fails chosen writes (see core/faults.ts). */
    faults?: WriteFaults | undefined;
  }) {
    this.layout = options.layout;
    this.logger = options.logger;
    this.durable = options.durable ?? true;
    this.faults = options.faults;
  }

  private path(name: string): string {
    if (name.length === 0 || name.includes('\n')) {
      throw new TbuildError('TB_STORE_ARGUMENT', `invalid image name ${JSON.stringify(name)}`);
    }
    const file = createHash('sha256').update(name).digest('hex');
    return join(this.layout.images, `${file}.json`);
  }

  async get(name: string): Promise<ImageRecord | undefined> {
    const read = await readChecked(this.path(name));
    if (read.kind === 'corrupt') {
      this.logger.warn('image record is damaged; ignoring it', { name, reason: read.reason });
      return undefined;
    }
    if (read.kind !== 'ok' || !isImageRecord(read.value) || read.value.name !== name) {
      return undefined;
    }
    return read.value;
  }

  /** Like get, but TB_IMAGE_NOT_FOUND when the name is not there. */
  async resolve(name: string): Promise<ImageRecord> {
    const found = await this.get(name);
    if (found !== undefined) return found;
    throw new TbuildError('TB_IMAGE_NOT_FOUND', `image ${name} is not in the local image store`, {
      hint: 'run `tbuild images` to list local images',
      details: { name },
    });
  }

  /** Points `name` at `target`; `manifests` are those already made of it (see ImageRecord). */
  async put(
    name: string,
    target: Descriptor,
    manifests?: readonly Descriptor[],
  ): Promise<ImageRecord> {
    const now = Date.now();
    const previous = await this.get(name);
    const record: ImageRecord = {
      name,
      target,
      ...(manifests === undefined || manifests.length === 0 ? {} : { manifests }),
      createdAt: previous?.createdAt ?? now,
      updatedAt: now,
    };
    await this.write(record);
    return record;
  }

  /**
   * Adds a manifest made of `name`'s target to its record, if the name still
   * points at `target` (it may have been retagged meanwhile). Two processes
   * adding at once may lose one: that manifest's blobs then stay only as long
   * as their cache records do, and are made again if pruned.
   */
  async addManifest(name: string, target: Digest, manifest: Descriptor): Promise<void> {
    const current = await this.get(name);
    if (current?.target.digest !== target) return;
    const known = current.manifests ?? [];
    if (known.some((made) => made.digest === manifest.digest)) return;
    await this.write({ ...current, manifests: [...known, manifest] });
  }

  private async write(record: ImageRecord): Promise<void> {
    await writeFileAtomic(this.layout.tmp, this.path(record.name), encodeChecked(record), {
      durable: this.durable,
      faults: this.faults,
    });
  }

  async delete(name: string): Promise<boolean> {
    return removeIfExists(this.path(name));
  }

  async list(): Promise<ImageRecord[]> {
    const names = await listDir(this.layout.images);
    const found: ImageRecord[] = [];
    for (const file of names.filter((entry) => entry.endsWith('.json'))) {
      const read = await readChecked(join(this.layout.images, file));
      if (read.kind === 'ok' && isImageRecord(read.value)) found.push(read.value);
    }
    return found.sort((a, b) => a.name.localeCompare(b.name));
  }
}
