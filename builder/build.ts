import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import {
  canonicalJson,
  TbuildError,
  toTbuildError,
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
  exportImage,
  SCRATCH,
  type Engine,
  type ImageBundle,
  type LayerSettings,
  type LayersAhead,
  type PushResult,
  type WorkerRef,
} from '../worker/index.js';
import type { BuildInputs } from './inputs.js';
import type { BuildOptions, OutputSpec } from './options.js';
import { mergeAnnotations } from './annotations.js';
import { lowerWithChecks } from './build-checks.js';
import { ExportStep } from './export-progress.js';
import { openNamedContexts } from './named-contexts.js';
import { exportStepName, writeOutput } from './outputs.js';

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
}

export interface BuildResult {
  /** The image as exported (config, manifest, layers) for the first output, or the image store. */
  readonly image: ImageBundle;
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
  const detach = engine.attachSession({
    id: session,
    locals: new Map([['context', resolve(inputs.contextDir)], ...named.locals]),
    secrets: job.secrets,
    sshSockets: job.sshSockets,
  });
  let lowered: LoweredBuild | undefined;
  let layersAhead: LayersAhead | undefined;
  try {
    lowered = await lower(job, session, named.contexts);
    for (const warning of lowered.warnings) job.progress(warningEvent(warning));
    const outputs = effectiveOutputs(options);
    // Layers of the image to export are made while the steps run (LayerPrefetcher).
    if (lowered.root !== undefined)
      layersAhead = engine.makeLayersAhead(
        lowered.root,
        layerSettings(outputs[0], sourceDateEpoch(options)),
      );
    const build = lowered;
    const ahead = layersAhead;
    const solveAndExport = async (): Promise<BuildResult> => {
      const result: WorkerRef =
        build.root === undefined
          ? SCRATCH
          : await engine.solver.solve(build.root, {
              signal,
              progress: job.progress,
              noCache: options.noCache,
            });
      return exportOutputs(job, session, result, build, ahead);
    };
    try {
      return await solveAndExport();
    } catch (error) {
      // A cached snapshot found changed when an exporter read it: its record is gone
      // now, so solving again runs the steps that made it (as the solver does inside).
      if (!isStaleResult(error) || signal.aborted) throw error;
      job.progress(warningEvent(`${toTbuildError(error).message}; building it again`));
      return await solveAndExport();
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
): Promise<BuildResult> {
  const { engine, options, signal } = job;
  if (result.kind !== 'snapshot')
    throw new TbuildError('TB_INTERNAL', 'a build result must be a snapshot');
  const outputs = effectiveOutputs(options);
  const labels = Object.fromEntries(options.labels);
  const config = {
    ...lowered.image,
    config: {
      ...lowered.image.config,
      ...(options.labels.size > 0 ? { Labels: { ...lowered.image.config.Labels, ...labels } } : {}),
    },
  };
  const epoch = sourceDateEpoch(options);
  const bundles = new Map<string, ImageBundle>();
  const bundleFor = async (output: OutputSpec | undefined): Promise<ImageBundle> => {
    const settings = layerSettings(output, epoch);
    const annotations = mergeAnnotations(output?.annotations, options.annotations);
    // As BuildKit: descriptor annotations exist only in OCI's media types, so they switch to them.
    const ociMediaTypes =
      output?.ociMediaTypes ??
      (output?.type !== 'docker' || Object.keys(annotations.manifestDescriptor).length > 0);
    const key = `${settings.compression}/${String(settings.compressionLevel)}/${String(ociMediaTypes)}/${canonicalJson(annotations.manifest)}`;
    let bundle = bundles.get(key);
    if (bundle === undefined) {
      bundle = await exportImage(result, config, {
        ...settings,
        store: engine.store,
        pool: engine.pool,
        ociMediaTypes,
        annotations: annotations.manifest,
        signal,
        ...(layersAhead === undefined
          ? {}
          : { madeAhead: (snapshot: string) => layersAhead.ready(snapshot) }),
      });
      bundles.set(key, bundle);
    }
    return bundle;
  };
  const pushed: PushResult[] = [];
  for (const [index, output] of outputs.entries()) {
    // Each output is a step of the progress, as buildx shows its exporters.
    const step = new ExportStep(job.progress, session, index, exportStepName(output));
    try {
      const bundle =
        output.type === 'local' || output.type === 'tar'
          ? await bundleFor(output)
          : await step.task('exporting layers', () => bundleFor(output));
      const results = await writeOutput({
        output,
        engine,
        result,
        bundle,
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
  // The first output's image (made above), or the image -q and --iidfile name without one.
  const primary = await bundleFor(outputs[0]);
  if (outputs.length === 0) {
    job.progress(
      warningEvent(
        'No output specified. The build result stays in the build cache; use -t NAME or -o to export it.',
      ),
    );
  }
  return { image: primary, names: options.tags, pushed };
}

/** The outputs asked for; `-t` alone means the local image store. */
function effectiveOutputs(options: BuildOptions): OutputSpec[] {
  if (options.outputs.length > 0) return [...options.outputs];
  return options.tags.length > 0
    ? [{ type: 'image', names: [], push: false, compression: 'gzip', tar: true }]
    : [];
}

function layerSettings(output: OutputSpec | undefined, epoch: number | undefined): LayerSettings {
  return {
    compression: output?.compression ?? 'gzip',
    ...(output?.compressionLevel === undefined
      ? {}
      : { compressionLevel: output.compressionLevel }),
    ...(epoch === undefined ? {} : { sourceDateEpoch: epoch }),
  };
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
