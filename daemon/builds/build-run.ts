import { join } from 'node:path';
import {
  TbuildError,
  toTbuildError,
  type Digest,
  type ProgressEvent,
  type ProgressSink,
} from '../../core/index.js';
import {
  PlainDisplay,
  RawJsonDisplay,
  readBuildInputs,
  runBuild,
  type BuildOptions,
  type BuildResult,
} from '../../builder/index.js';
import type { Engine } from '../../worker/index.js';
import type { ServiceMetrics } from '../metrics.js';
import type { BuildRecord, BuildStatus } from './build-record.js';
import { StepTracker } from './step-tracker.js';

/** What one run of a build needs, wherever its record and progress are kept. */
export interface BuildRun {
  readonly engine: Engine;
  readonly metrics: ServiceMetrics;
  readonly record: BuildRecord;
  readonly options: BuildOptions;
  readonly contextDir: string;
  /** The Dockerfile's path inside the context; default `Dockerfile`. */
  readonly dockerfile?: string;
  readonly secrets: ReadonlyMap<string, () => Promise<Uint8Array>>;
  /** SSH agent sockets on this machine by id. */
  readonly sshSockets?: ReadonlyMap<string, string>;
  /** The Dockerfile's text and .dockerignore patterns when they came with the request, not from the context. */
  readonly inputs?: { readonly dockerfileText: string; readonly dockerignore: readonly string[] };
  readonly signal: AbortSignal;
  /** Each status line (rawjson) with the event it shows, in order: the build's event stream. */
  readonly statusLine: (line: string, event: ProgressEvent) => void;
  /** The plain log's text, in order. */
  readonly logText: (text: string) => void;
  /** Every progress event, after the record's steps took it in. */
  readonly progress?: ProgressSink;
  /** A step started or ended: the record's steps changed. */
  readonly stepsChanged?: () => void;
  /** Warnings shown before the build starts (a retry says where it runs now). */
  readonly notices?: readonly string[];
}

export interface BuildRunOutcome {
  readonly status: BuildStatus;
  readonly error?: { readonly code: string; readonly message: string };
  /** The whole result or failure, for callers that send it on (a remote builder). */
  readonly result?: BuildResult;
  readonly failure?: TbuildError;
}

/**
 * Runs one build on the engine (builder's runBuild) and keeps what the service
 * shows of it: the record's steps and result, the status lines of its event
 * stream, its plain log, and the metrics. Used by the embedded queue and by the
 * shared one alike; where the record and the lines go is the caller's.
 */
export async function runServiceBuild(run: BuildRun): Promise<BuildRunOutcome> {
  const { record, metrics } = run;
  const plain = new PlainDisplay({ write: run.logText });
  // RawJsonDisplay writes one line per event, at once: the line belongs to `current`.
  let current: ProgressEvent | undefined;
  const statuses = new RawJsonDisplay({
    write: (text) => {
      for (const line of text.split('\n'))
        if (line !== '' && current !== undefined) run.statusLine(line, current);
    },
  });
  const steps = new StepTracker();
  record.steps = steps.steps;
  const progress: ProgressSink = (event: ProgressEvent) => {
    plain.sink(event);
    current = event;
    statuses.sink(event);
    if (measure(metrics, steps, event)) run.stepsChanged?.();
    run.progress?.(event);
  };
  const started = performance.now();
  for (const message of run.notices ?? []) progress({ type: 'warning', message, at: Date.now() });
  try {
    const inputs =
      run.inputs === undefined
        ? await readBuildInputs({
            contextDir: run.contextDir,
            dockerfile: join(run.contextDir, run.dockerfile ?? 'Dockerfile'),
            readStdin: () => Promise.reject(new TbuildError('TB_SERVICE_REQUEST', 'no stdin here')),
          })
        : { contextDir: run.contextDir, ...run.inputs };
    const result = await runBuild({
      engine: run.engine,
      options: run.options,
      inputs: { ...inputs, dockerfileName: run.dockerfile ?? 'Dockerfile' },
      secrets: run.secrets,
      sshSockets: run.sshSockets ?? new Map(),
      progress,
      signal: run.signal,
    });
    record.result = {
      ...(result.manifest === undefined ? {} : { manifestDigest: result.manifest.digest }),
      configDigest: result.image.config.descriptor.digest,
      tags: result.names,
    };
    countPushed(metrics, result);
    return { status: 'succeeded', result };
  } catch (caught) {
    // Steps cut short end now, in the record and for every watcher of the stream.
    for (const step of steps.unfinished())
      progress({ type: 'vertex.canceled', vertex: step.vertex as Digest, at: Date.now() });
    const failure = toTbuildError(caught);
    plain.sink({ type: 'warning', message: `ERROR: ${failure.message}`, at: Date.now() });
    return {
      status: run.signal.aborted ? 'cancelled' : 'failed',
      error: { code: failure.code, message: failure.message },
      failure,
    };
  } finally {
    plain.finish();
    metrics.buildDuration.observe((performance.now() - started) / 1000);
  }
}

/** Counts a step's outcome and pulled bytes; true when the event started or ended a step. */
function measure(metrics: ServiceMetrics, steps: StepTracker, event: ProgressEvent): boolean {
  const outcome = steps.apply(event);
  if (outcome?.cached === true) metrics.cacheHits.inc();
  if (outcome?.cached === false) {
    metrics.cacheMisses.inc();
    if (outcome.seconds !== undefined) metrics.stepDuration.observe(outcome.seconds);
  }
  // A pulled layer reports its bytes as a status named by its digest.
  if (event.type === 'vertex.status' && event.completed && event.id.startsWith('sha256:'))
    metrics.bytesPulled.inc(event.current);
  return outcome !== undefined || event.type === 'vertex.started';
}

function countPushed(metrics: ServiceMetrics, result: BuildResult): void {
  for (const push of result.pushed) metrics.bytesPushed.inc(push.uploadedBytes);
}
