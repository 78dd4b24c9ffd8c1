import type { Logger } from '../../core/index.js';
import type { BuildRecord } from '../builds/build-record.js';
import type { SharedRecords } from './shared-records.js';

/**
 * What one attempt of a build writes to Redis while it runs: status lines,
 * log text, the record's steps. Writes go one after another (status numbers
 * follow the order of the events); log text and record saves that pile up
 * meanwhile go as one write. Every write is fenced by the attempt: the first
 * one refused means another node took the build over (this node was thought
 * dead) or it ended, and `onLost` stops the run.
 */
export class AttemptWriter {
  readonly #records: SharedRecords;
  readonly #id: string;
  readonly #attempt: number;
  readonly #logger: Logger;
  readonly #onLost: () => void;
  #chain: Promise<void> = Promise.resolve();
  #lost = false;
  #log = '';
  #logQueued = false;
  #recordQueued: BuildRecord | undefined;

  constructor(options: {
    readonly records: SharedRecords;
    readonly id: string;
    readonly attempt: number;
    readonly logger: Logger;
    readonly onLost: () => void;
  }) {
    this.#records = options.records;
    this.#id = options.id;
    this.#attempt = options.attempt;
    this.#logger = options.logger;
    this.#onLost = options.onLost;
  }

  /** True once a write was refused: the build is no longer this attempt's. */
  get lost(): boolean {
    return this.#lost;
  }

  event(line: string, event: string): void {
    this.#push(() => this.#records.appendEvent(this.#id, this.#attempt, line, event));
  }

  log(text: string): void {
    this.#log += text;
    if (this.#logQueued) return;
    this.#logQueued = true;
    this.#push(() => {
      const text = this.#log;
      this.#log = '';
      this.#logQueued = false;
      return this.#records.appendLog(this.#id, this.#attempt, text);
    });
  }

  record(record: BuildRecord): void {
    const queued = this.#recordQueued !== undefined;
    this.#recordQueued = record;
    if (queued) return;
    this.#push(() => {
      const latest = this.#recordQueued ?? record;
      this.#recordQueued = undefined;
      return this.#records.save(latest, this.#attempt);
    });
  }

  /** Resolves once every write so far is done. */
  async flush(): Promise<void> {
    await this.#chain;
  }

  #push(write: () => Promise<boolean>): void {
    if (this.#lost) return;
    this.#chain = this.#chain.then(async () => {
      if (this.#lost) return;
      try {
        if (!(await write())) {
          this.#lost = true;
          this.#onLost();
        }
      } catch (error) {
        // Redis away for longer than ioredis retries: this piece of progress is missing.
        this.#logger.warn('cannot write a build’s progress to Redis', {
          id: this.#id,
          error: String(error),
        });
      }
    });
  }
}
