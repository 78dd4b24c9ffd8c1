import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { storeLayout, writeFileAtomic } from '../../cache/index.js';
import type { Logger } from '../../core/index.js';
import { BUILD_ID_PATTERN, isFinished, type BuildRecord } from './build-record.js';

/**
 * Build records under the root, one directory per build (`v1/service/builds/<id>`):
 * `record.json` (rewritten atomically at every change of status), `events.jsonl`
 * (the recorded progress stream, one status per line, appended) and `build.log`
 * (the plain log, appended, never clipped). Contexts being built live in
 * `v1/service/contexts/<id>` and are removed when their build ends.
 */
export class RecordStore {
  readonly #dir: string;
  readonly #contexts: string;
  readonly #tmp: string;
  readonly #logger: Logger;

  private constructor(root: string, logger: Logger) {
    const layout = storeLayout(root);
    this.#dir = join(root, 'v1', 'service', 'builds');
    this.#contexts = join(root, 'v1', 'service', 'contexts');
    this.#tmp = layout.tmp;
    this.#logger = logger;
  }

  static async open(root: string, logger: Logger): Promise<RecordStore> {
    const store = new RecordStore(root, logger);
    await mkdir(store.#dir, { recursive: true });
    await mkdir(store.#tmp, { recursive: true });
    // Contexts of builds that were running when the service stopped are of no use now.
    await rm(store.#contexts, { recursive: true, force: true });
    await mkdir(store.#contexts, { recursive: true });
    return store;
  }

  /** Every record on disk, oldest first; a record left unreadable by a crash is skipped. */
  async loadAll(): Promise<BuildRecord[]> {
    const records: BuildRecord[] = [];
    for (const id of (await readdir(this.#dir)).sort()) {
      if (!BUILD_ID_PATTERN.test(id)) continue;
      try {
        records.push(JSON.parse(await readFile(this.recordPath(id), 'utf8')) as BuildRecord);
      } catch (error) {
        this.#logger.warn('skipping an unreadable build record', { id, error: String(error) });
      }
    }
    return records;
  }

  async save(record: BuildRecord): Promise<void> {
    await mkdir(join(this.#dir, record.id), { recursive: true });
    // Finished records are made durable: they are what a restart lists.
    await writeFileAtomic(this.#tmp, this.recordPath(record.id), JSON.stringify(record), {
      durable: isFinished(record.status),
    });
  }

  /** Forgets a build that was never queued (its record, events and log). */
  async remove(id: string): Promise<void> {
    await rm(join(this.#dir, id), { recursive: true, force: true });
  }

  /** A fresh, empty directory to extract a build's context into. */
  async contextDir(id: string): Promise<string> {
    const dir = join(this.#contexts, id);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async removeContext(id: string): Promise<void> {
    await rm(join(this.#contexts, id), { recursive: true, force: true });
  }

  recordPath(id: string): string {
    return join(this.#dir, id, 'record.json');
  }

  eventsPath(id: string): string {
    return join(this.#dir, id, 'events.jsonl');
  }

  logPath(id: string): string {
    return join(this.#dir, id, 'build.log');
  }

  appendStream(path: string): WriteStream {
    return createWriteStream(path, { flags: 'a' });
  }
}
