import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import {
  TbuildError,
  toTbuildError,
  type Descriptor,
  type ProgressEvent,
  type ProgressSink,
} from '../core/index.js';
import {
  createIgnoreMatcher,
  lowerDockerfile,
  parseDockerfile,
  parseDockerignore,
  type LoweredBuild,
  type NamedContext,
} from '../frontend/index.js';
import { isStaleResult, topologicalOrder } from '../solver/index.js';
import {
  INLINE_CACHE_FIELD,
  SCRATCH,
  type Engine,
  type LayersAhead,
  type PushResult,
  type StoredImage,
  type WorkerRef,
} from '../worker/index.js';
import type { BuildInputs } from './inputs.js';
import type { BuildOptions, OutputSpec } from './options.js';
import { mergeAnnotations } from './annotations.js';
import { lowerWithChecks } from './build-checks.js';
import { ExportStep } from './export-progress.js';
import { explainOptions } from './explain-options.js';
import { BuildCaches } from './build-cache.js';
import { openNamedContexts } from './named-contexts.js';
import { exportStepName, writeOutput } from './outputs.js';
import {
  layerSettings,
  needsBlobs,
  outputManifest,
  plannedManifest,
  ResultImage,
} from './result-image.js';

/** One build: what to build, from what, and where its progress goes. */
export interface BuildJob {
  readonly engine: Engine;
  readonly options: BuildOptions;
  /** The context directory, the Dockerfile's text and the .dockerignore patterns. */
  readonly inputs: BuildInputs;
  /** Secret values by id, read only when a step mounts them. */
  readonly secrets: ReadonlyMap<string, () => Promise<Uint8Array>>;
  /** SSH agent sockets by id. */
  readonly sshSockets: ReadonlyMap<string, string>;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
  /** Where an output with `dest=-` goes (the CLI's standard output). */
  readonly stdout?: Writable;
  /** The Docker daemon `--load` loads into (DOCKER_HOST's form); none: `--load` is refused. */
  readonly dockerHost?: string;
  /**
   * Say why steps ran although an earlier build had their results, comparing
   * with earlier builds of the same context directory. Only for a context that
   * stays where it is (a CLI directory): a temporary copy (an upload, a git or
   * URL context) would leave records nothing reads again.
   */
  readonly explainMisses?: boolean;
}

export interface BuildResult {
  /** The image in the local store: config (its digest is the image ID) and layers. */
  readonly image: StoredImage;
  /** The first manifest an output wrote (push, oci, docker); none for the local store alone. */
  readonly manifest?: Descriptor;
  /** Names given with -t, as the image store holds them. */
  readonly names: readonly string[];
  /** What each push sent (one per pushed name). */
  readonly pushed: readonly PushResult[];
}

/**
 * Runs one build end to end: lower the Dockerfile, solve it on the engine
 * (shared with any other build running there), export the outputs. Every
 * surface (CLI, HTTP service, Docker API) calls this. Errors are TbuildErrors;
 * a failed step's error carries its Dockerfile lines. A cancelled build
 * throws TB_CANCELED.
 */
export async function runBuild(job: BuildJob): Promise<BuildResult> {
  const { engine, options, inputs, signal } = job;
  const session = randomUUID();
  // --build-context directories are locals of the session beside the context.
  const named = await openNamedContexts(options.buildContexts ?? [], { engine, signal });
  let importedCacheMounts: BuildCaches | undefined;
  const detach = engine.attachSession({
    id: session,
    locals: new Map([['context', resolve(inputs.contextDir)], ...named.locals]),
    secrets: job.secrets,
    sshSockets: job.sshSockets,
    // Set once the --cache-from caches are read: what they carry fills an empty cache mount.
    fillCacheMount: (id, dir, mountSignal) =>
      importedCacheMounts?.fillCacheMount(id, dir, mountSignal) ?? Promise.resolve(),
  });
  let lowered: LoweredBuild | undefined;
  let layersAhead: LayersAhead | undefined;
  try {
    lowered = await lower(job, session, named.contexts);
    for (const warning of lowered.warnings) job.progress(warningEvent(warning));
    const outputs = effectiveOutputs(options);
    // Layers of the image to export are made while the steps run (LayerPrefetcher): their
    // blobs when an output needs the bytes, else only their diffIDs (the local store's image).
    const blobOutput = outputs.find(needsBlobs);
    if (lowered.root !== undefined)
      layersAhead = engine.makeLayersAhead(
        lowered.root,
        layerSettings(blobOutput ?? outputs[0], sourceDateEpoch(options)),
        { blobs: blobOutput !== undefined },
      );
    const build = lowered;
    const ahead = layersAhead;
    // --cache-from is read before the solve (lazily: records only), --cache-to written after the outputs.
    const epoch = sourceDateEpoch(options);
    const caches = new BuildCaches({
      engine,
      progress: job.progress,
      signal,
      session,
      cacheFrom: options.cacheFrom ?? [],
      cacheTo: options.cacheTo ?? [],
      ...(epoch === undefined ? {} : { sourceDateEpoch: epoch }),
    });
    await caches.importAll();
    importedCacheMounts = caches;
    const solveAndExport = async (): Promise<BuildResult> => {
      const fallbackCache = caches.fallback();
      const solved: WorkerRef =
        build.root === undefined
          ? SCRATCH
          : await engine.solver.solve(build.root, {
              signal,
              progress: job.progress,
              noCache: options.noCache,
              onKey: caches.onKey,
              ...(fallbackCache === undefined ? {} : { fallbackCache }),
              // Why a step missed the cache: compared with this project's last build of it.
              ...(job.explainMisses === true
                ? { explain: explainOptions(inputs, caches.explanations) }
                : {}),
            });
      // A remote cache hit stays remote unless an output takes its files: an image is
      // made of its blobs and diffIDs, and only what needs the bytes fetches them.
      const result = effectiveOutputs(options).some(needsFiles)
        ? await caches.local(solved, build.root)
        : solved;
      const exported = await exportOutputs(job, session, result, build, ahead, caches);
      await caches.exportAll(build.root);
      return exported;
    };
    try {
      return await solveAndExport();
    } catch (error) {
      // A cached snapshot found changed when an exporter read it: its record is gone
      // now, so solving again runs the steps that made it (as the solver does inside).
      if (!isStaleResult(error) || signal.aborted) throw error;
      job.progress(warningEvent(`${toTbuildError(error).message}; building it again`));
      // A bad blob of an imported cache withdraws the records using it, so each try
      // has fewer; a cache with several bad blobs takes a few (bounded) tries.
      for (let attempt = 1; ; attempt++) {
        try {
          return await solveAndExport();
        } catch (again) {
          if (!isRemoteCacheFailure(again) || attempt >= REMOTE_CACHE_RETRIES) throw again;
        }
      }
    }
  } catch (error) {
    if (signal.aborted) throw canceled(signal);
    throw withStepSource(toTbuildError(error), lowered, inputs);
  } finally {
    await layersAhead?.close();
    detach();
    await named.close();
  }
}

/** Solves again after a remote cache blob failed, at most this many more times. */
const REMOTE_CACHE_RETRIES = 16;

/** A stale result caused by a blob of an imported cache (remote-layers.ts names the cache). */
function isRemoteCacheFailure(error: unknown): boolean {
  return isStaleResult(error) && typeof toTbuildError(error).details?.['cache'] === 'string';
}

async function lower(
  job: BuildJob,
  session: string,
  namedContexts: ReadonlyMap<string, NamedContext>,
): Promise<LoweredBuild> {
  const { engine, options, inputs, signal } = job;
  const parsed = parseDockerfile(inputs.dockerfileText, { file: inputs.dockerfileName });
  const epoch = sourceDateEpoch(options);
  const checked = { buildArgs: options.buildArgs, progress: job.progress };
  return lowerWithChecks(parsed, checked, (linter) =>
    lowerDockerfile(parsed, {
      linter,
      file: inputs.dockerfileName,
      session,
      namedContexts,
      buildArgs: options.buildArgs,
      ...(options.target === undefined ? {} : { target: options.target }),
      resolver: {
        resolve: (ref, resolveOptions) =>
          engine.resolveImage(ref, { pull: options.pull, signal: resolveOptions.signal }),
      },
      dockerignore: inputs.dockerignore,
      noCache: options.noCache,
      network: options.network,
      // A build-wide --network=host is the user's own choice of the host network.
      entitlements: options.network === 'host' ? [...options.allow, 'network.host'] : options.allow,
      extraHosts: options.addHosts.map(({ host, ip }) => `${host}:${ip}`),
      ...(options.shmSize === undefined ? {} : { shmSize: options.shmSize }),
      ...(options.ulimits === undefined ? {} : { ulimits: options.ulimits }),
      ...(epoch === undefined ? {} : { sourceDateEpoch: epoch }),
      signal,
    }),
  );
}

/** .dockerignore matching for the engine (the rules belong to the frontend). */
export function dockerignoreExcluder(patterns: readonly string[]): (path: string) => boolean {
  const matcher = createIgnoreMatcher(parseDockerignore(patterns.join('\n'), '.dockerignore'));
  return (path) => matcher.excludes(path);
}

/** SOURCE_DATE_EPOCH from the build args (the CLI adds the environment's, as buildx does). */
function sourceDateEpoch(options: BuildOptions): number | undefined {
  const text = options.buildArgs.get('SOURCE_DATE_EPOCH');
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text))
    throw new TbuildError(
      'TB_USAGE',
      `invalid SOURCE_DATE_EPOCH "${text}": expected seconds since the epoch`,
    );
  return Number(text);
}

async function exportOutputs(
  job: BuildJob,
  session: string,
  result: WorkerRef,
  lowered: LoweredBuild,
  layersAhead: LayersAhead | undefined,
  caches: BuildCaches,
): Promise<BuildResult> {
  const { engine, options, signal } = job;
  if (result.kind === 'local')
    throw new TbuildError('TB_INTERNAL', 'a build result must be a snapshot or a cache hit');
  const outputs = effectiveOutputs(options);
  const labels = Object.fromEntries(options.labels);
  // An inline cache (--cache-to type=inline) rides in the image's config: the image's own steps.
  const firstSettings = layerSettings(effectiveOutputs(options)[0], sourceDateEpoch(options));
  const inline = caches.wantsInline
    ? await caches.inlineValue(lowered.root, {
        ...firstSettings,
        ociMediaTypes: effectiveOutputs(options)[0]?.type !== 'docker',
      })
    : undefined;
  const config = {
    ...lowered.image,
    ...(inline === undefined ? {} : { [INLINE_CACHE_FIELD]: inline }),
    config: {
      ...lowered.image.config,
      ...(options.labels.size > 0 ? { Labels: { ...lowered.image.config.Labels, ...labels } } : {}),
    },
  };
  const epoch = sourceDateEpoch(options);
  const image = new ResultImage({
    engine,
    result,
    progress: job.progress,
    config,
    sourceDateEpoch: epoch,
    manifest: plannedManifest(outputs, options, epoch),
    layersAhead,
    signal,
  });
  const pushed: PushResult[] = [];
  for (const [index, output] of outputs.entries()) {
    // Each output is a step of the progress, as buildx shows its exporters.
    const step = new ExportStep(job.progress, session, index, exportStepName(output));
    try {
      // Layer blobs only for an output that sends the bytes; the local store keeps snapshots.
      const exported =
        output.type === 'local' || output.type === 'tar'
          ? undefined
          : await step.task('exporting layers', async () => {
              // A name only here (no push) must stay usable: its blobs come here.
              if (output.type === 'image' && !output.push) await image.localBlobs();
              return {
                stored: await image.stored(),
                bundle: needsBlobs(output)
                  ? await image.manifest(outputManifest(output, options, epoch), {
                      localBlobs: output.type !== 'image',
                    })
                  : undefined,
              };
            });
      const results = await writeOutput({
        output,
        engine,
        result,
        ...(exported === undefined ? {} : { image: exported.stored }),
        ...(exported?.bundle === undefined ? {} : { bundle: exported.bundle }),
        ...(image.remoteBlobs === undefined ? {} : { remoteBlobs: image.remoteBlobs }),
        names: options.tags,
        descriptorAnnotations: mergeAnnotations(output.annotations, options.annotations)
          .manifestDescriptor,
        ...(job.stdout === undefined ? {} : { stdout: job.stdout }),
        ...(job.dockerHost === undefined ? {} : { dockerHost: job.dockerHost }),
        tasks: step,
        signal,
      });
      pushed.push(...results);
      step.complete();
    } catch (error) {
      step.fail(toTbuildError(error), signal.aborted);
      throw error;
    }
  }
  // The image (committed above), or the one -q and --iidfile name without an image output.
  const stored = await image.stored();
  if (outputs.length === 0) {
    job.progress(
      warningEvent(
        'No output specified. The build result stays in the build cache; use -t NAME or -o to export it.',
      ),
    );
  }
  return {
    image: stored,
    ...(image.firstManifest === undefined ? {} : { manifest: image.firstManifest }),
    names: options.tags,
    pushed,
  };
}

/** Whether an output writes the result's files (a directory or a tar of them). */
function needsFiles(output: OutputSpec): boolean {
  return output.type === 'local' || output.type === 'tar';
}

/** The outputs asked for; `-t` alone means the local image store. */
function effectiveOutputs(options: BuildOptions): OutputSpec[] {
  if (options.outputs.length > 0) return [...options.outputs];
  return options.tags.length > 0
    ? [{ type: 'image', names: [], push: false, compression: 'gzip', tar: true }]
    : [];
}

function warningEvent(message: string): ProgressEvent {
  return { type: 'warning', message, at: Date.now() };
}

function canceled(signal: AbortSignal): TbuildError {
  const reason: unknown = signal.reason;
  return reason instanceof TbuildError && reason.code === 'TB_CANCELED'
    ? reason
    : new TbuildError('TB_CANCELED', 'the build was canceled', { cause: reason });
}

/** A failed step's error gets the Dockerfile lines of that step, for the code frame. */
function withStepSource(
  error: TbuildError,
  lowered: LoweredBuild | undefined,
  inputs: BuildInputs,
): TbuildError {
  const vertexDigest = error.details?.['vertex'];
  if (error.source !== undefined || lowered?.root === undefined || typeof vertexDigest !== 'string')
    return error;
  const vertex = topologicalOrder([lowered.root]).find(
    (candidate) => candidate.digest === vertexDigest,
  );
  const source = vertex?.meta.source;
  if (source === undefined) return error;
  const lines = inputs.dockerfileText.split(/\r?\n/).slice(source.startLine - 1, source.endLine);
  return new TbuildError(error.code, error.message, {
    ...(error.hint === undefined ? {} : { hint: error.hint }),
    ...(error.details === undefined ? {} : { details: error.details }),
    source: { file: source.file, startLine: source.startLine, endLine: source.endLine, lines },
    cause: error,
  });
}
