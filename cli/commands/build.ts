import { setMaxListeners } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  formatCodeFrame,
  isTbuildError,
  TbuildError,
  toTbuildError,
  type ProgressEvent,
} from '../../core/index.js';
import {
  createIgnoreMatcher,
  lowerDockerfile,
  parseDockerfile,
  parseDockerignore,
  type LoweredBuild,
} from '../../frontend/index.js';
import { isStaleResult, topologicalOrder } from '../../solver/index.js';
import {
  exportImage,
  openEngine,
  SCRATCH,
  type Engine,
  type ImageBundle,
  type LayerSettings,
  type WorkerRef,
} from '../../worker/index.js';
import {
  BUILD_FLAGS,
  parseBuildRequest,
  type BuildRequest,
  type OutputSpec,
} from '../build-options.js';
import { readBuildInputs, readStdin, type BuildInputs } from '../builder/inputs.js';
import { writeOutput } from '../builder/outputs.js';
import { registrySettings } from '../builder/registry-settings.js';
import { resolveRoot } from '../builder/root.js';
import { formatFlagHelp } from '../flags.js';
import { createProgressDisplay, type ProgressDisplay } from '../progress/index.js';

const HELP = `Usage: tbuild build [OPTIONS] CONTEXT
       tbuild [OPTIONS] CONTEXT

Build an image from a Dockerfile, as docker buildx build does.

Options:
${formatFlagHelp(BUILD_FLAGS)}`;

/** Exit code of a build stopped by Ctrl-C, as a shell reports SIGINT. */
const EXIT_INTERRUPTED = 130;

export async function runBuild(argv: readonly string[]): Promise<number> {
  const request = parseBuildRequest(argv, process.env);
  if (request === 'help') {
    console.log(HELP);
    return 0;
  }
  const controller = new AbortController();
  // Every waiting step listens on the build's signal; many at once is normal, not a leak.
  setMaxListeners(0, controller.signal);
  const interrupt = (): void => {
    controller.abort(new TbuildError('TB_CANCELED', 'canceled by the user'));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const display = createProgressDisplay(request.quiet ? 'quiet' : request.progress, process.stderr);
  const inputs = await readBuildInputs({
    contextDir: request.contextPath,
    dockerfile: request.dockerfile,
    readStdin,
  });
  const engine = await openEngine({
    root: resolveRoot(request.root, process.env),
    locals: new Map([['context', resolve(request.contextPath)]]),
    excluder: (patterns) => {
      const matcher = createIgnoreMatcher(parseDockerignore(patterns.join('\n'), '.dockerignore'));
      return (path) => matcher.excludes(path);
    },
    secrets: secretReaders(request),
    sshSockets: sshSockets(request),
    registry: registrySettings(process.env),
    pull: request.pull,
    ...(request.maxParallelism === undefined ? {} : { maxParallelism: request.maxParallelism }),
  });
  let lowered: LoweredBuild | undefined;
  try {
    lowered = await lower(inputs, request, engine, controller.signal);
    for (const warning of lowered.warnings)
      display.sink({ type: 'warning', message: warning, at: Date.now() });
    // Layers of the image to export are made while the steps run (LayerPrefetcher).
    if (lowered.root !== undefined)
      engine.makeLayersAhead(
        lowered.root,
        layerSettings(effectiveOutputs(request)[0], sourceDateEpoch(request)),
      );
    const root = lowered.root;
    const build = lowered;
    const solveAndExport = async (): Promise<Exported> => {
      const result: WorkerRef =
        root === undefined
          ? SCRATCH
          : await engine.solver.solve(root, {
              signal: controller.signal,
              progress: display.sink,
              noCache: request.noCache,
            });
      return exportOutputs(request, engine, result, build, controller.signal);
    };
    let exported: Exported;
    try {
      exported = await solveAndExport();
    } catch (error) {
      // A cached snapshot found changed when an exporter read it: its record is gone
      // now, so solving again runs the steps that made it (as the solver does inside).
      if (!isStaleResult(error) || controller.signal.aborted) throw error;
      display.sink({
        type: 'warning',
        message: `${toTbuildError(error).message}; building it again`,
        at: Date.now(),
      });
      exported = await solveAndExport();
    }
    display.finish();
    await reportResult(request, exported);
    return 0;
  } catch (error) {
    display.finish();
    if (controller.signal.aborted) {
      console.error('ERROR: canceled');
      return EXIT_INTERRUPTED;
    }
    throw withStepSource(toTbuildError(error), lowered, inputs);
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await engine.close();
  }
}

async function lower(
  inputs: BuildInputs,
  request: BuildRequest,
  engine: Engine,
  signal: AbortSignal,
): Promise<LoweredBuild> {
  const parsed = parseDockerfile(inputs.dockerfileText, { file: inputs.dockerfileName });
  const epoch = sourceDateEpoch(request);
  return lowerDockerfile(parsed, {
    file: inputs.dockerfileName,
    buildArgs: request.buildArgs,
    ...(request.target === undefined ? {} : { target: request.target }),
    resolver: { resolve: (ref, options) => engine.resolveImage(ref, options.signal) },
    dockerignore: inputs.dockerignore,
    noCache: request.noCache,
    network: request.network,
    // A build-wide --network=host is the user's own choice of the host network.
    entitlements: request.network === 'host' ? [...request.allow, 'network.host'] : request.allow,
    extraHosts: request.addHosts.map(({ host, ip }) => `${host}:${ip}`),
    ...(epoch === undefined ? {} : { sourceDateEpoch: epoch }),
    signal,
  });
}

/** SOURCE_DATE_EPOCH from --build-arg or the environment, as buildx passes it. */
function sourceDateEpoch(request: BuildRequest): number | undefined {
  const text = request.buildArgs.get('SOURCE_DATE_EPOCH') ?? process.env['SOURCE_DATE_EPOCH'];
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text))
    throw new TbuildError(
      'TB_USAGE',
      `invalid SOURCE_DATE_EPOCH "${text}": expected seconds since the epoch`,
    );
  return Number(text);
}

interface Exported {
  readonly bundle: ImageBundle;
  readonly names: readonly string[];
}

async function exportOutputs(
  request: BuildRequest,
  engine: Engine,
  result: WorkerRef,
  lowered: LoweredBuild,
  signal: AbortSignal,
): Promise<Exported> {
  if (result.kind !== 'snapshot')
    throw new TbuildError('TB_INTERNAL', 'a build result must be a snapshot');
  const outputs = effectiveOutputs(request);
  const labels = Object.fromEntries(request.labels);
  const config = {
    ...lowered.image,
    config: {
      ...lowered.image.config,
      ...(request.labels.size > 0 ? { Labels: { ...lowered.image.config.Labels, ...labels } } : {}),
    },
  };
  const epoch = sourceDateEpoch(request);
  const bundles = new Map<string, ImageBundle>();
  const bundleFor = async (output: OutputSpec | undefined): Promise<ImageBundle> => {
    const settings = layerSettings(output, epoch);
    const ociMediaTypes = output?.ociMediaTypes ?? output?.type !== 'docker';
    const key = `${settings.compression}/${String(settings.compressionLevel)}/${String(ociMediaTypes)}`;
    let bundle = bundles.get(key);
    if (bundle === undefined) {
      bundle = await exportImage(result, config, {
        ...settings,
        store: engine.store,
        pool: engine.pool,
        ociMediaTypes,
        signal,
        madeAhead: (snapshot) => engine.madeAhead(snapshot),
      });
      bundles.set(key, bundle);
    }
    return bundle;
  };
  const primary = await bundleFor(outputs[0]);
  for (const output of outputs) {
    await writeOutput({
      output,
      engine,
      result,
      bundle: await bundleFor(output),
      names: request.tags,
      stdout: process.stdout,
      signal,
    });
  }
  if (outputs.length === 0) {
    console.error(
      'WARNING: No output specified. The build result stays in the build cache; use -t NAME or -o to export it.',
    );
  }
  return { bundle: primary, names: request.tags };
}

/** The outputs asked for; `-t` alone means the local image store. */
function effectiveOutputs(request: BuildRequest): OutputSpec[] {
  if (request.outputs.length > 0) return [...request.outputs];
  return request.tags.length > 0
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

async function reportResult(request: BuildRequest, exported: Exported): Promise<void> {
  const manifestDigest = exported.bundle.manifest.descriptor.digest;
  const configDigest = exported.bundle.config.descriptor.digest;
  if (request.quiet) process.stdout.write(`${manifestDigest}\n`);
  if (request.iidfile !== undefined) await writeFile(request.iidfile, configDigest);
  if (request.metadataFile !== undefined) {
    const metadata = {
      'containerimage.digest': manifestDigest,
      'containerimage.config.digest': configDigest,
      'containerimage.descriptor': exported.bundle.manifest.descriptor,
      ...(exported.names.length > 0 ? { 'image.name': exported.names.join(',') } : {}),
    };
    await writeFile(request.metadataFile, `${JSON.stringify(metadata, null, 2)}\n`);
  }
}

function secretReaders(request: BuildRequest): Map<string, () => Promise<Uint8Array>> {
  const readers = new Map<string, () => Promise<Uint8Array>>();
  for (const secret of request.secrets) {
    const source = secret.source;
    if (source.type === 'file') {
      readers.set(secret.id, () => readFile(source.path));
    } else {
      const value = process.env[source.name];
      if (value !== undefined) readers.set(secret.id, () => Promise.resolve(Buffer.from(value)));
    }
  }
  return readers;
}

function sshSockets(request: BuildRequest): Map<string, string> {
  const sockets = new Map<string, string>();
  for (const spec of request.ssh) {
    const socket = spec.paths[0] ?? process.env['SSH_AUTH_SOCK'];
    if (socket !== undefined) sockets.set(spec.id, socket);
  }
  return sockets;
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

export type { ProgressDisplay, ProgressEvent };
export { formatCodeFrame, isTbuildError };
