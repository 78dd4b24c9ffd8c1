import { setMaxListeners } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { TbuildError, type Logger, type ProgressSink } from '../../core/index.js';
import type { BuildOptions, BuildResult } from '../../builder/index.js';
import type { Engine } from '../../worker/index.js';
import type { ServiceMetrics } from '../metrics.js';
import { BuildEvents } from './build-events.js';
import { BuildQueue, type QueuedBuild } from './build-queue.js';
import {
  BUILD_STATUSES,
  isFinished,
  newBuildId,
  type BuildRecord,
  type BuildStatus,
} from './build-record.js';
import { runServiceBuild } from './build-run.js';
import type { Builds } from './builds.js';
import type { RecordStore } from './record-store.js';

/** A build as the service receives it, its context already written to `contextDir`. */
export interface SubmitRequest {
  readonly id: string;
  readonly owner: string;
  readonly options: BuildOptions;
  /** The options as asked, by flag name, for the record (secrets appear by id only). */
  readonly shownOptions: Readonly<Record<string, string | readonly string[]>>;
  readonly contextDir: string;
  /** The Dockerfile's path inside the context; default `Dockerfile`. */
  readonly dockerfile?: string;
  readonly secrets: ReadonlyMap<string, () => Promise<Uint8Array>>;
  /** SSH agent sockets on this machine by id (a remote builder's proxies to its client's agent). */
  readonly sshSockets?: ReadonlyMap<string, string>;
  /** The Dockerfile's text and .dockerignore patterns when they came with the request, not from the context. */
  readonly inputs?: { readonly dockerfileText: string; readonly dockerignore: readonly string[] };
  /** Follows the build's progress from its first event (a remote builder's client renders it). */
  readonly watch?: ProgressSink;
  /** Told the outcome with the full result or error (a remote builder sends both back). */
  readonly onFinish?: (outcome: { result?: BuildResult; error?: TbuildError }) => void;
}

/** A build that is queued or running: what only lives while it does. */
interface LiveBuild {
  readonly record: BuildRecord;
  readonly events: BuildEvents;
  readonly queued: QueuedBuild;
  readonly controller: AbortController;
  readonly watchers: Set<ProgressSink>;
  readonly done: Promise<void>;
  finish: () => void;
}

export interface ListOptions {
  readonly status?: BuildStatus;
  readonly limit: number;
  /** The id of the last build of the previous page. */
  readonly cursor?: string;
}

/**
 * The service's builds: queued in the embedded queue, run on the one shared
 * engine through builder's runBuild, recorded under the root (RecordStore),
 * their progress recorded once and fanned out to any number of watchers.
 */
export class BuildManager implements Builds {
  readonly #engine: Engine;
  readonly #store: RecordStore;
  readonly #queue: BuildQueue;
  readonly #metrics: ServiceMetrics;
  readonly #logger: Logger;
  readonly #records = new Map<string, BuildRecord>();
  readonly #live = new Map<string, LiveBuild>();
  #stopping = false;

  private constructor(options: {
    readonly engine: Engine;
    readonly store: RecordStore;
    readonly metrics: ServiceMetrics;
    readonly logger: Logger;
    readonly maxConcurrentBuilds: number;
    readonly maxQueue: number;
  }) {
    this.#engine = options.engine;
    this.#store = options.store;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#queue = new BuildQueue({
      maxRunning: options.maxConcurrentBuilds,
      maxQueued: options.maxQueue,
      onChange: () => {
        this.#metrics.queueLength.set(this.#queue.queued);
        this.#metrics.running.set(this.#queue.running);
      },
    });
  }

  /**
   * Loads the records under the root. Builds that were queued or running when
   * the service last stopped (a crash, a kill -9) are marked failed.
   */
  static async open(options: {
    readonly engine: Engine;
    readonly store: RecordStore;
    readonly metrics: ServiceMetrics;
    readonly logger: Logger;
    readonly maxConcurrentBuilds: number;
    readonly maxQueue: number;
  }): Promise<BuildManager> {
    const manager = new BuildManager(options);
    for (const record of await options.store.loadAll()) {
      if (!isFinished(record.status)) {
        record.status = 'failed';
        record.finishedAt = new Date().toISOString();
        record.error = { code: 'TB_SERVICE_STOPPING', message: 'server restarted' };
        await options.store.save(record);
      }
      manager.#records.set(record.id, record);
    }
    return manager;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  newId(): string {
    return newBuildId();
  }

  /** Queues a build; throws TB_SERVICE_QUEUE_FULL or TB_SERVICE_STOPPING without recording it. */
  async submit(request: SubmitRequest): Promise<BuildRecord> {
    if (this.#stopping)
      throw new TbuildError('TB_SERVICE_STOPPING', 'the service is shutting down', {
        hint: 'send the build to another node or retry when the service is back',
      });
    const record: BuildRecord = {
      id: request.id,
      status: 'queued',
      createdAt: new Date().toISOString(),
      owner: request.owner,
      options: request.shownOptions,
      steps: [],
    };
    // Recorded first: a build that starts at once saves itself as running after this.
    await this.#store.save(record);
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const live: LiveBuild = {
      record,
      events: new BuildEvents(this.#store.appendStream(this.#store.eventsPath(record.id))),
      queued: { owner: request.owner, run: () => this.#run(live, request) },
      controller,
      watchers: new Set(request.watch === undefined ? [] : [request.watch]),
      done,
      finish: () => {
        finish();
      },
    };
    this.#records.set(record.id, record);
    this.#live.set(record.id, live);
    try {
      this.#queue.enqueue(live.queued);
    } catch (error) {
      this.#records.delete(record.id);
      this.#live.delete(record.id);
      await live.events.end();
      await this.#store.remove(record.id);
      throw error;
    }
    return record;
  }

  get(id: string): Promise<BuildRecord> {
    return Promise.resolve(this.#record(id));
  }

  #record(id: string): BuildRecord {
    const record = this.#records.get(id);
    if (record === undefined)
      throw new TbuildError('TB_SERVICE_NOT_FOUND', `no build with id ${id}`, {
        hint: 'GET /v1/builds lists the builds this service knows',
      });
    return record;
  }

  /** Newest first, `limit` at a time; `next` is the cursor of the following page. */
  list(options: ListOptions): Promise<{ builds: BuildRecord[]; next?: string }> {
    return Promise.resolve(this.#list(options));
  }

  #list(options: ListOptions): { builds: BuildRecord[]; next?: string } {
    if (options.status !== undefined && !BUILD_STATUSES.includes(options.status))
      throw new TbuildError('TB_SERVICE_REQUEST', `unknown status "${options.status}"`, {
        hint: `use one of ${BUILD_STATUSES.join(', ')}`,
      });
    const ids = [...this.#records.keys()].sort().reverse();
    const start =
      options.cursor === undefined ? 0 : ids.findIndex((id) => id < (options.cursor ?? ''));
    const builds: BuildRecord[] = [];
    let index = start < 0 ? ids.length : start;
    for (; index < ids.length && builds.length < options.limit; index++) {
      const record = this.#records.get(ids[index] ?? '');
      if (
        record !== undefined &&
        (options.status === undefined || record.status === options.status)
      )
        builds.push(record);
    }
    const last = builds.at(-1);
    return index < ids.length && last !== undefined ? { builds, next: last.id } : { builds };
  }

  /** The build's recorded progress: live while it runs, read back from disk after. */
  async events(id: string): Promise<BuildEvents> {
    this.#record(id);
    return this.#live.get(id)?.events ?? BuildEvents.recorded(this.#store.eventsPath(id));
  }

  async log(id: string): Promise<Readable | Buffer> {
    this.#record(id);
    const path = this.#store.logPath(id);
    const size = await stat(path).then(
      (info) => info.size,
      () => 0,
    );
    // The log as written so far, whole: it is appended to, never rewritten.
    return size === 0 ? Buffer.alloc(0) : createReadStream(path, { end: size - 1 });
  }

  /**
   * Follows a build's progress events as they happen (the Docker API renders
   * them); returns the unsubscribe and a promise that settles when it ends.
   */
  watch(
    id: string,
    sink: ProgressSink,
  ): { readonly stop: () => void; readonly done: Promise<void> } {
    const live = this.#live.get(id);
    if (live === undefined) return { stop: () => undefined, done: Promise.resolve() };
    live.watchers.add(sink);
    return { stop: () => live.watchers.delete(sink), done: live.done };
  }

  /** Cancels a queued or running build; a finished one is left as it is. */
  async cancel(id: string): Promise<BuildRecord> {
    const record = this.#record(id);
    const live = this.#live.get(id);
    if (live === undefined) return record;
    if (this.#queue.remove(live.queued)) {
      await this.#end(live, 'cancelled', {
        code: 'TB_CANCELED',
        message: 'canceled before it started',
      });
      return record;
    }
    live.controller.abort(new TbuildError('TB_CANCELED', 'canceled by a client'));
    return record;
  }

  /**
   * Stops taking builds, lets running ones finish for up to `graceMs`, then
   * cancels what is left (queued builds at once).
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    for (const live of [...this.#live.values()]) {
      if (this.#queue.remove(live.queued))
        await this.#end(live, 'cancelled', {
          code: 'TB_SERVICE_STOPPING',
          message: 'the service stopped before the build started',
        });
    }
    const running = [...this.#live.values()];
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(running.map((live) => live.done)), grace]);
    clearTimeout(timer);
    for (const live of this.#live.values())
      live.controller.abort(new TbuildError('TB_SERVICE_STOPPING', 'the service stopped'));
    await Promise.all(running.map((live) => live.done));
  }

  async #run(live: LiveBuild, request: SubmitRequest): Promise<void> {
    const { record, events } = live;
    const logFile = this.#store.appendStream(this.#store.logPath(record.id));
    record.status = 'running';
    record.startedAt = new Date().toISOString();
    await this.#store.save(record);
    const outcome = await runServiceBuild({
      engine: this.#engine,
      metrics: this.#metrics,
      record,
      options: request.options,
      contextDir: request.contextDir,
      ...(request.dockerfile === undefined ? {} : { dockerfile: request.dockerfile }),
      secrets: request.secrets,
      ...(request.sshSockets === undefined ? {} : { sshSockets: request.sshSockets }),
      ...(request.inputs === undefined ? {} : { inputs: request.inputs }),
      signal: live.controller.signal,
      statusLine: (line) => {
        events.append(line);
      },
      logText: (text) => logFile.write(text),
      progress: (event) => {
        for (const watcher of live.watchers) watcher(event);
      },
    });
    request.onFinish?.(
      outcome.result === undefined
        ? { ...(outcome.failure === undefined ? {} : { error: outcome.failure }) }
        : { result: outcome.result },
    );
    await new Promise<void>((resolve) => logFile.end(resolve));
    await this.#end(live, outcome.status, outcome.error);
  }

  async #end(
    live: LiveBuild,
    status: BuildStatus,
    error: { code: string; message: string } | undefined,
  ): Promise<void> {
    const { record } = live;
    record.status = status;
    record.finishedAt = new Date().toISOString();
    if (error !== undefined) record.error = error;
    this.#metrics.builds.inc({ result: status });
    await live.events.end();
    await this.#store.save(record).catch((failure: unknown) => {
      this.#logger.error('cannot save a build record', { id: record.id, error: String(failure) });
    });
    await this.#store.removeContext(record.id);
    this.#live.delete(record.id);
    live.finish();
  }
}
