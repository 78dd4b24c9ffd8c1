import { setMaxListeners } from 'node:events';
import { DelayedError, Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { TbuildError, type Logger, type ProgressSink } from '../../core/index.js';
import type { Engine } from '../../worker/index.js';
import type { ListOptions, SubmitRequest } from '../builds/build-manager.js';
import { BUILD_STATUSES, newBuildId, type BuildRecord } from '../builds/build-record.js';
import { runServiceBuild, type BuildRunOutcome } from '../builds/build-run.js';
import type { Builds, EventFeed } from '../builds/builds.js';
import type { RecordStore } from '../builds/record-store.js';
import type { ServiceConfig } from '../config.js';
import type { ServiceMetrics } from '../metrics.js';
import { affinityDigest } from './affinity.js';
import { AttemptWriter } from './attempt-writer.js';
import {
  affinityKey,
  BULL_PREFIX,
  buildKeys,
  CANCEL_CHANNEL,
  nodeQueue,
  SHARED_QUEUE,
} from './cluster-keys.js';
import { packContext, unpackContext } from './context-transfer.js';
import { followStream } from './event-follower.js';
import { HEARTBEAT_MS, NodePresence } from './node-presence.js';
import { optionsFromJson, optionsToJson } from './options-json.js';
import { progressFromJson, progressToJson } from './progress-json.js';
import type { QueueConfig } from './queue-config.js';
import { checkRedis, redisConnection } from './redis.js';
import { SecretBox } from './secret-box.js';
import { SharedRecords, type Claim } from './shared-records.js';
import { SlotGate } from './slot-gate.js';

/** How often in a row a build's node may vanish before BullMQ gives the build up. */
const MAX_STALLED = 5;

/** What a job carries: everything another node needs to run the build, secrets sealed. */
interface BuildJob {
  readonly id: string;
  readonly owner: string;
  /** BuildOptions as options-json.ts writes them. */
  readonly options: string;
  readonly dockerfile?: string;
  readonly inputs?: { readonly dockerfileText: string; readonly dockerignore: readonly string[] };
  /** The build's secrets, sealed with the nodes' shared key (secret-box.ts). */
  readonly sealedSecrets?: string;
  /** Why only the receiving node can run it, when it can (its client's stream, agent or secrets live there). */
  readonly pinned?: { readonly node: string; readonly reason: string };
  /** The affinity digest, recorded for this node once the build succeeded. */
  readonly affinity?: string;
}

const JOB_OPTIONS: JobsOptions = {
  // A failed build is a finished job: the record says how it failed; BullMQ never runs it again.
  attempts: 1,
  removeOnComplete: true,
  removeOnFail: { count: 1000 },
};

export interface ClusterOptions {
  readonly engine: Engine;
  readonly config: ServiceConfig & { readonly queue: QueueConfig };
  readonly records: RecordStore;
  readonly metrics: ServiceMetrics;
  readonly logger: Logger;
}

/**
 * The builds of a node that shares a queue with others (`tbuild serve --queue
 * redis://…`, docs/service.md "Many machines"): jobs in BullMQ queues (one
 * shared, one per node), records, event streams and logs in Redis
 * (SharedRecords) so every node answers for every build, contexts in Redis
 * until their build ends, builds run here through runServiceBuild on this
 * node's engine. A node that vanishes mid-build loses its lock; BullMQ hands
 * the job to another node, whose claim starts a new attempt, and every write
 * of the old attempt is refused from then on: a build ends once.
 */
export class ClusterBuilds implements Builds {
  readonly #engine: Engine;
  readonly #config: ServiceConfig;
  readonly #queue: QueueConfig;
  readonly #records: RecordStore;
  readonly #metrics: ServiceMetrics;
  readonly #logger: Logger;
  readonly #redis: Redis;
  readonly #bull: Redis;
  readonly #subscriber: Redis;
  readonly #shared: SharedRecords;
  readonly #presence: NodePresence;
  readonly #box: SecretBox | undefined;
  readonly #gate: SlotGate;
  readonly #queues = new Map<string, Queue>();
  readonly #workers = new Map<string, Worker>();
  /** Builds running here, by id: what a cancel from any node aborts. */
  readonly #running = new Map<string, AbortController>();
  /** Builds only this node can run, with what ties them here. */
  readonly #pinned = new Map<string, SubmitRequest>();
  #watchTimer: NodeJS.Timeout | undefined;
  #stopping = false;

  private constructor(options: ClusterOptions, redis: Redis) {
    this.#engine = options.engine;
    this.#config = options.config;
    this.#queue = options.config.queue;
    this.#records = options.records;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#redis = redis;
    this.#bull = redisConnection(this.#queue.url, { blocking: true });
    this.#subscriber = redis.duplicate();
    this.#subscriber.on('error', () => undefined);
    this.#shared = new SharedRecords(redis, this.#queue.recordTtlSeconds);
    this.#presence = new NodePresence(redis, this.#queue.node, options.logger);
    this.#box =
      this.#queue.secretKeyFile === undefined
        ? undefined
        : SecretBox.fromFile(this.#queue.secretKeyFile);
    this.#gate = new SlotGate(options.config.maxConcurrentBuilds);
  }

  /** Joins the nodes at `config.queue.url`: fails at once when Redis does not answer. */
  static async open(options: ClusterOptions): Promise<ClusterBuilds> {
    const redis = redisConnection(options.config.queue.url);
    try {
      await checkRedis(redis, options.config.queue.url);
    } catch (error) {
      redis.disconnect();
      throw error;
    }
    const builds = new ClusterBuilds(options, redis);
    await builds.#start();
    return builds;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  get node(): string {
    return this.#queue.node;
  }

  newId(): string {
    return newBuildId();
  }

  async #start(): Promise<void> {
    await this.#subscriber.subscribe(CANCEL_CHANNEL);
    this.#subscriber.on('message', (_channel: string, id: string) => {
      this.#running.get(id)?.abort(new TbuildError('TB_CANCELED', 'canceled by a client'));
    });
    await this.#presence.start();
    this.#startWorker(SHARED_QUEUE);
    this.#startWorker(nodeQueue(this.#queue.node));
    this.#watchTimer = setInterval(() => {
      this.#watchNodes().catch((error: unknown) => {
        this.#logger.warn('cannot look at the other nodes', { error: String(error) });
      });
    }, HEARTBEAT_MS);
    this.#watchTimer.unref();
  }

  async submit(request: SubmitRequest): Promise<BuildRecord> {
    if (this.#stopping)
      throw new TbuildError('TB_SERVICE_STOPPING', 'the service is shutting down', {
        hint: 'send the build to another node or retry when the service is back',
      });
    await this.#checkRoom();
    const record: BuildRecord = {
      id: request.id,
      status: 'queued',
      createdAt: new Date().toISOString(),
      owner: request.owner,
      options: request.shownOptions,
      steps: [],
    };
    const pinReason = this.#pinReason(request);
    const packed =
      pinReason === undefined
        ? await packContext(
            request.contextDir,
            this.#queue.contextBytes,
            AbortSignal.timeout(600_000),
          )
        : undefined;
    const sealedSecrets =
      pinReason === undefined && request.secrets.size > 0 && this.#box !== undefined
        ? this.#box.seal(request.id, await readSecrets(request.secrets))
        : undefined;
    const affinity =
      pinReason === undefined
        ? await affinityDigest(
            request.contextDir,
            request.dockerfile ?? 'Dockerfile',
            request.inputs?.dockerfileText,
          )
        : undefined;
    const job: BuildJob = {
      id: request.id,
      owner: request.owner,
      options: optionsToJson(request.options),
      ...(request.dockerfile === undefined ? {} : { dockerfile: request.dockerfile }),
      ...(request.inputs === undefined ? {} : { inputs: request.inputs }),
      ...(sealedSecrets === undefined ? {} : { sealedSecrets }),
      ...(pinReason === undefined ? {} : { pinned: { node: this.#queue.node, reason: pinReason } }),
      ...(affinity === undefined ? {} : { affinity }),
    };
    await this.#shared.create(record);
    try {
      if (packed !== undefined)
        await this.#redis.set(
          buildKeys(request.id).context,
          packed,
          'EX',
          this.#queue.recordTtlSeconds,
        );
      if (pinReason !== undefined) this.#pinned.set(request.id, request);
      await this.#route(job);
    } catch (error) {
      this.#pinned.delete(request.id);
      await this.#shared.remove(request.id).catch(() => undefined);
      throw error;
    }
    // The context now lives in Redis; a pinned build keeps this node's copy until it ends.
    if (pinReason === undefined) await this.#records.removeContext(request.id);
    return record;
  }

  async get(id: string): Promise<BuildRecord> {
    const shared = await this.#shared.get(id);
    if (shared === undefined)
      throw new TbuildError('TB_SERVICE_NOT_FOUND', `no build with id ${id}`, {
        hint: 'GET /v1/builds lists the builds the nodes know (records expire after queue.recordTtlSeconds)',
      });
    return shared.record;
  }

  async list(options: ListOptions): Promise<{ builds: BuildRecord[]; next?: string }> {
    if (options.status !== undefined && !BUILD_STATUSES.includes(options.status))
      throw new TbuildError('TB_SERVICE_REQUEST', `unknown status "${options.status}"`, {
        hint: `use one of ${BUILD_STATUSES.join(', ')}`,
      });
    const builds: BuildRecord[] = [];
    let cursor = options.cursor;
    let more = true;
    while (builds.length < options.limit && more) {
      const ids = await this.#shared.idsBefore(cursor, Math.max(options.limit, 100));
      more = ids.length > 0;
      for (const shared of await this.#shared.getMany(ids)) {
        if (builds.length >= options.limit) break;
        cursor = shared.record.id;
        if (options.status === undefined || shared.record.status === options.status)
          builds.push(shared.record);
      }
      cursor = ids.at(-1) ?? cursor;
      if (builds.length >= options.limit) cursor = builds.at(-1)?.id;
    }
    const last = builds.at(-1);
    const after = last === undefined ? [] : await this.#shared.idsBefore(last.id, 1);
    return after.length > 0 && last !== undefined ? { builds, next: last.id } : { builds };
  }

  async events(id: string): Promise<EventFeed> {
    await this.get(id);
    const key = buildKeys(id).events;
    return {
      subscribe: (after, listener) =>
        followStream(
          this.#redis,
          key,
          after,
          (entry) => {
            if (entry.end !== undefined) listener.end();
            else if (entry.line !== undefined) listener.event(entry.n, entry.line);
          },
          () => {
            listener.end();
          },
        ),
    };
  }

  async log(id: string): Promise<Buffer> {
    await this.get(id);
    return (await this.#redis.getBuffer(buildKeys(id).log)) ?? Buffer.alloc(0);
  }

  watch(
    id: string,
    sink: ProgressSink,
  ): { readonly stop: () => void; readonly done: Promise<void> } {
    let stop: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      stop = followStream(
        this.#redis,
        buildKeys(id).events,
        0,
        (entry) => {
          if (entry.event !== undefined) sink(progressFromJson(entry.event));
          if (entry.end !== undefined) resolve();
        },
        () => {
          resolve();
        },
      );
    });
    return {
      stop: () => {
        stop();
      },
      done,
    };
  }

  async cancel(id: string): Promise<BuildRecord> {
    const record = await this.get(id);
    const attempt = await this.#shared.wantCancel(id);
    if (attempt === 0) {
      // Still queued: it ends here; whichever node takes its job later finds it done.
      const cancelled: BuildRecord = {
        ...record,
        status: 'cancelled',
        finishedAt: new Date().toISOString(),
        error: { code: 'TB_CANCELED', message: 'canceled before it started' },
      };
      if (await this.#shared.finish(cancelled, 0)) {
        this.#metrics.builds.inc({ result: 'cancelled' });
        await this.#redis.del(buildKeys(id).context);
      }
    } else if (attempt > 0) {
      // The node running it hears this (its claim also saw the flag, had it come first).
      await this.#redis.publish(CANCEL_CHANNEL, id);
    }
    return this.get(id);
  }

  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#watchTimer);
    // No new jobs from here; running builds may end within the grace period.
    const closing = Promise.all([...this.#workers.values()].map((worker) => worker.close()));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([closing, grace]);
    clearTimeout(timer);
    for (const controller of this.#running.values())
      controller.abort(new TbuildError('TB_SERVICE_STOPPING', 'the service stopped'));
    await closing;
    await this.#presence.stop();
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
    this.#subscriber.disconnect();
    await this.#bull.quit().catch(() => undefined);
    await this.#redis.quit().catch(() => undefined);
  }

  /** Why the build must run here, if it must: what it needs lives only in this process. */
  #pinReason(request: SubmitRequest): string | undefined {
    if (request.watch !== undefined || request.onFinish !== undefined)
      return "its client's connection is held by this node";
    if (request.sshSockets !== undefined && request.sshSockets.size > 0)
      return 'its SSH agent is reached through this node';
    if (request.secrets.size > 0 && this.#box === undefined)
      return 'its secrets stay in this node’s memory (no queue.secretKeyFile to seal them)';
    return undefined;
  }

  /**
   * To the node that last built the same Dockerfile and context shape, when it
   * is alive, with a copy in the shared queue that any node may take after
   * `affinityWaitSeconds` (the first to claim it runs it); else to the shared queue.
   */
  async #route(job: BuildJob): Promise<void> {
    if (job.pinned !== undefined) {
      await this.#queueOf(nodeQueue(job.pinned.node)).add('build', job, {
        ...JOB_OPTIONS,
        jobId: job.id,
      });
      return;
    }
    const preferred =
      job.affinity === undefined ? null : await this.#redis.get(affinityKey(job.affinity));
    if (preferred !== null && (await this.#presence.alive(preferred))) {
      await this.#queueOf(nodeQueue(preferred)).add('build', job, {
        ...JOB_OPTIONS,
        jobId: job.id,
      });
      await this.#queueOf(SHARED_QUEUE).add('build', job, {
        ...JOB_OPTIONS,
        jobId: `${job.id}-fallback`,
        delay: this.#queue.affinityWaitSeconds * 1000,
      });
      return;
    }
    await this.#queueOf(SHARED_QUEUE).add('build', job, { ...JOB_OPTIONS, jobId: job.id });
  }

  async #checkRoom(): Promise<void> {
    const waiting = await this.#queueOf(SHARED_QUEUE).getJobCountByTypes('waiting', 'prioritized');
    if (waiting >= this.#config.maxQueue)
      throw new TbuildError(
        'TB_SERVICE_QUEUE_FULL',
        `the shared build queue is full (${String(waiting)} builds waiting)`,
        { hint: 'retry later, add nodes, or raise maxQueue' },
      );
  }

  #queueOf(name: string): Queue {
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      queue = new Queue(name, { connection: this.#bull, prefix: BULL_PREFIX });
      queue.on('error', (error) => {
        this.#logger.warn('queue error', { queue: name, error: String(error) });
      });
      this.#queues.set(name, queue);
    }
    return queue;
  }

  #startWorker(name: string): void {
    const lockMs = this.#queue.lockSeconds * 1000;
    const worker = new Worker(
      name,
      async (job: Job, token?: string) => this.#process(job, name, token),
      {
        connection: this.#bull,
        prefix: BULL_PREFIX,
        concurrency: this.#config.maxConcurrentBuilds,
        lockDuration: lockMs,
        // Other nodes look for builds whose node stopped renewing its lock this often.
        stalledInterval: Math.max(1000, Math.floor(lockMs / 2)),
        maxStalledCount: MAX_STALLED,
      },
    );
    worker.on('error', (error) => {
      this.#logger.warn('queue worker error', { queue: name, error: String(error) });
    });
    worker.on('failed', (job, error) => {
      this.#logger.error('a build job failed outside its build', {
        queue: name,
        job: job?.id,
        error: String(error),
      });
    });
    this.#workers.set(name, worker);
  }

  /**
   * Takes over the queues of nodes that stopped (their jobs, running ones
   * once BullMQ finds them stalled) and gives them back when they return;
   * a stopped node whose queue is empty is forgotten.
   */
  async #watchNodes(): Promise<void> {
    if (this.#stopping) return;
    this.#metrics.queueLength.set(
      await this.#queueOf(SHARED_QUEUE).getJobCountByTypes('waiting', 'prioritized'),
    );
    for (const node of await this.#presence.nodes()) {
      if (node === this.#queue.node) continue;
      const name = nodeQueue(node);
      const adopted = this.#workers.get(name);
      const alive = await this.#presence.alive(node);
      if (!alive && adopted === undefined) {
        this.#logger.warn('taking over the queue of a node that stopped', { node });
        this.#startWorker(name);
      } else if (alive && adopted !== undefined) {
        this.#workers.delete(name);
        void adopted.close();
      } else if (!alive && adopted !== undefined) {
        const left = await this.#queueOf(name).getJobCountByTypes(
          'waiting',
          'active',
          'delayed',
          'prioritized',
        );
        if (left === 0) {
          this.#workers.delete(name);
          await adopted.close();
          await this.#presence.forget(node);
        }
      }
    }
  }

  async #process(job: Job, queueName: string, token: string | undefined): Promise<void> {
    const data = job.data as BuildJob;
    const release = await this.#gate.acquire();
    try {
      if (this.#stopping) {
        // Not started here: back to the queue for another node.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      const claim = await this.#shared.claim(
        data.id,
        this.#queue.node,
        `${queueName}/${String(job.id)}`,
      );
      if (claim.kind !== 'run') return;
      await this.#runClaimed(data, claim);
    } finally {
      release();
    }
  }

  async #runClaimed(data: BuildJob, claim: Claim & { kind: 'run' }): Promise<void> {
    const { id } = data;
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    this.#running.set(id, controller);
    this.#metrics.running.set(this.#running.size);
    const pinned = this.#pinned.get(id);
    const writer = new AttemptWriter({
      records: this.#shared,
      id,
      attempt: claim.attempt,
      logger: this.#logger,
      onLost: () => {
        controller.abort(new TbuildError('TB_CANCELED', 'another node took the build over'));
      },
    });
    const stored = await this.#shared.get(id);
    const record: BuildRecord = {
      ...(stored?.record ?? {
        id,
        owner: data.owner,
        createdAt: new Date().toISOString(),
        options: {},
      }),
      status: 'running',
      startedAt: new Date().toISOString(),
      steps: [],
      node: this.#queue.node,
      attempt: claim.attempt,
    };
    delete record.result;
    delete record.error;
    let outcome: BuildRunOutcome;
    try {
      // Registered before this look, so a cancel is either seen here or heard on the channel.
      if (claim.cancelled || (await this.#shared.cancelWanted(id)))
        controller.abort(new TbuildError('TB_CANCELED', 'canceled by a client'));
      writer.record(record);
      outcome = await this.#run(data, claim, record, writer, pinned, controller.signal);
    } catch (caught) {
      const failure = caught instanceof TbuildError ? caught : undefined;
      outcome = {
        status: controller.signal.aborted ? 'cancelled' : 'failed',
        error: {
          code: failure?.code ?? 'TB_INTERNAL',
          message: failure?.message ?? String(caught),
        },
      };
    } finally {
      this.#running.delete(id);
      this.#metrics.running.set(this.#running.size);
    }
    await writer.flush();
    pinned?.onFinish?.(
      outcome.result === undefined
        ? { ...(outcome.failure === undefined ? {} : { error: outcome.failure }) }
        : { result: outcome.result },
    );
    this.#pinned.delete(id);
    await this.#records.removeContext(id);
    if (writer.lost) return;
    record.status = outcome.status;
    record.finishedAt = new Date().toISOString();
    if (outcome.error !== undefined) record.error = outcome.error;
    if (!(await this.#shared.finish(record, claim.attempt))) return;
    this.#metrics.builds.inc({ result: outcome.status });
    await this.#redis.del(buildKeys(id).context);
    if (outcome.status === 'succeeded' && data.affinity !== undefined)
      await this.#redis.set(
        affinityKey(data.affinity),
        this.#queue.node,
        'EX',
        this.#queue.recordTtlSeconds,
      );
  }

  /** One attempt on this node's engine: its context, options and secrets first. */
  async #run(
    data: BuildJob,
    claim: Claim & { kind: 'run' },
    record: BuildRecord,
    writer: AttemptWriter,
    pinned: SubmitRequest | undefined,
    signal: AbortSignal,
  ): Promise<BuildRunOutcome> {
    if (data.pinned !== undefined && pinned === undefined)
      throw new TbuildError(
        'TB_SERVICE_NODE_LOST',
        `the build could run only on node ${data.pinned.node} (${data.pinned.reason}), which stopped`,
        { hint: 'submit it again' },
      );
    const contextDir = pinned?.contextDir ?? (await this.#fetchContext(data.id, signal));
    const secrets =
      pinned?.secrets ??
      (data.sealedSecrets === undefined || this.#box === undefined
        ? new Map<string, () => Promise<Uint8Array>>()
        : secretReaders(this.#box.open(data.id, data.sealedSecrets)));
    const notices =
      claim.attempt > 1
        ? [
            `retrying on node ${this.#queue.node} (attempt ${String(claim.attempt)}): node ${claim.previousNode || 'unknown'} stopped before the build ended`,
          ]
        : [];
    return runServiceBuild({
      engine: this.#engine,
      metrics: this.#metrics,
      record,
      options: pinned?.options ?? optionsFromJson(data.options),
      contextDir,
      ...(data.dockerfile === undefined ? {} : { dockerfile: data.dockerfile }),
      ...(data.inputs === undefined ? {} : { inputs: data.inputs }),
      secrets,
      ...(pinned?.sshSockets === undefined ? {} : { sshSockets: pinned.sshSockets }),
      signal,
      notices,
      statusLine: (line, event) => {
        writer.event(line, progressToJson(event));
      },
      logText: (text) => {
        writer.log(text);
      },
      stepsChanged: () => {
        writer.record(record);
      },
      ...(pinned?.watch === undefined ? {} : { progress: pinned.watch }),
    });
  }

  async #fetchContext(id: string, signal: AbortSignal): Promise<string> {
    const packed = await this.#redis.getBuffer(buildKeys(id).context);
    if (packed === null)
      throw new TbuildError('TB_SERVICE_CONTEXT', 'the build context is no longer in Redis', {
        hint: 'it expired (queue.recordTtlSeconds) before a node took the build; submit it again',
      });
    const dir = await this.#records.contextDir(id);
    await unpackContext(packed, dir, this.#config.limits, signal);
    return dir;
  }
}

async function readSecrets(
  secrets: ReadonlyMap<string, () => Promise<Uint8Array>>,
): Promise<Map<string, Uint8Array>> {
  const values = new Map<string, Uint8Array>();
  for (const [id, read] of secrets) values.set(id, await read());
  return values;
}

function secretReaders(
  values: ReadonlyMap<string, Uint8Array>,
): Map<string, () => Promise<Uint8Array>> {
  return new Map([...values].map(([id, value]) => [id, () => Promise.resolve(value)]));
}
