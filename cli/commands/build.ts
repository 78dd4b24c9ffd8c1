import { setMaxListeners } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { faultInjector, parseFaultSpec, TbuildError, type WriteFaults } from '../../core/index.js';
import {
  createProgressDisplay,
  DEFAULT_DOCKER_HOST,
  dockerignoreExcluder,
  openBuildContext,
  readBuildInputs,
  registrySettings,
  resolveRoot,
  runBuild,
  type BuildResult,
  type OpenedContext,
  type ProgressDisplay,
} from '../../builder/index.js';
import { openEngine } from '../../worker/index.js';
import { chooseBuilder, type NamedBuilder } from '../remote-builder/builder-store.js';
import { BUILD_FLAGS, parseBuildRequest, type BuildRequest } from '../build-options.js';
import { runCallCommand } from './build-call.js';
import { formatFlagHelp } from '../flags.js';

import { readStdin, readStdinBytes } from '../stdin.js';

const HELP = `Usage: tbuild build [OPTIONS] CONTEXT
       tbuild [OPTIONS] CONTEXT

Build an image from a Dockerfile, as docker buildx build does.

Options:
${formatFlagHelp(BUILD_FLAGS)}`;

/** Exit code of a build stopped by Ctrl-C, as a shell reports SIGINT. */
const EXIT_INTERRUPTED = 130;

/**
 * `tbuild build`: flags in, a build on an engine of this process (builder's
 * runBuild), progress on stderr, the result reported as buildx reports it.
 */
export async function runBuildCommand(argv: readonly string[]): Promise<number> {
  const request = parseBuildRequest(argv, process.env);
  if (request === 'help') {
    console.log(HELP);
    return 0;
  }
  if (request.call !== undefined) return runCallCommand(request, request.call);
  const controller = new AbortController();
  // Every waiting step listens on the build's signal; many at once is normal, not a leak.
  setMaxListeners(0, controller.signal);
  const interrupt = (): void => {
    controller.abort(new TbuildError('TB_CANCELED', 'canceled by the user'));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const display = createProgressDisplay(
    request.quiet ? 'quiet' : request.progress,
    process.stderr,
    { explain: request.explain },
  );
  const context = await openBuildContext(request.contextPath, {
    signal: controller.signal,
    readStdin: readStdinBytes,
    dockerfileFromStdin: request.dockerfile === '-',
  });
  try {
    const builder = await chooseBuilder(request.builder, process.env);
    if (builder !== undefined)
      return await buildOnBuilder(request, builder, context, { controller, display });
    return await buildIn(request, context.dir, context.dockerfilePath(request.dockerfile), {
      controller,
      display,
    });
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await context.close();
  }
}

/** A build on a remote builder (docs/remote-builders.md), its modules loaded only then. */
async function buildOnBuilder(
  request: BuildRequest,
  builder: NamedBuilder,
  context: OpenedContext,
  { controller, display }: { controller: AbortController; display: ProgressDisplay },
): Promise<number> {
  const { buildRemotely } = await import('../remote-builder/remote-build.js');
  try {
    const result = await buildRemotely({
      request,
      builder,
      contextDir: context.dir,
      dockerfile: context.dockerfilePath(request.dockerfile),
      secrets: secretReaders(request),
      sshSockets: sshSockets(request),
      display,
      signal: controller.signal,
    });
    display.finish();
    await reportDigests(request, {
      manifestDigest: result.manifestDigest,
      configDigest: result.configDigest,
      descriptor: result.manifestDescriptor,
      names: result.names,
    });
    return 0;
  } catch (error) {
    display.finish();
    if (controller.signal.aborted) {
      console.error('ERROR: canceled');
      return EXIT_INTERRUPTED;
    }
    throw error;
  }
}

async function buildIn(
  request: BuildRequest,
  contextDir: string,
  dockerfile: string | undefined,
  { controller, display }: { controller: AbortController; display: ProgressDisplay },
): Promise<number> {
  const inputs = await readBuildInputs({ contextDir, dockerfile, readStdin });
  const engine = await openEngine({
    root: resolveRoot(request.root, process.env),
    excluder: dockerignoreExcluder,
    registry: registrySettings(process.env),
    ...(request.maxParallelism === undefined ? {} : { maxParallelism: request.maxParallelism }),
    ...writeFaults(process.env),
  });
  try {
    const result = await runBuild({
      engine,
      options: request,
      inputs,
      secrets: secretReaders(request),
      sshSockets: sshSockets(request),
      progress: display.sink,
      signal: controller.signal,
      stdout: process.stdout,
      // As docker's client: DOCKER_HOST, or the system daemon's socket.
      dockerHost: nonEmpty(process.env['DOCKER_HOST']) ?? DEFAULT_DOCKER_HOST,
      // A directory context stays where it is; a fetched one is a new temp copy each time.
      explainMisses: resolve(contextDir) === resolve(request.contextPath),
    });
    display.finish();
    await reportResult(request, result);
    return 0;
  } catch (error) {
    display.finish();
    if (controller.signal.aborted) {
      console.error('ERROR: canceled');
      return EXIT_INTERRUPTED;
    }
    throw error;
  } finally {
    await engine.close();
  }
}

/**
 * TBUILD_FAULT_INJECT=enospc:N (or eio:N) fails the Nth file the build writes
 * (store and outputs) as a full or broken disk would: for tests of what a build
 * leaves when a write fails (test/e2e/disk-faults.test.ts). Unset: no hook at all.
 */
function writeFaults(env: NodeJS.ProcessEnv): { faults?: WriteFaults } {
  const text = env['TBUILD_FAULT_INJECT'];
  if (text === undefined || text === '') return {};
  return { faults: faultInjector(parseFaultSpec(text, 'TBUILD_FAULT_INJECT')) };
}

async function reportResult(request: BuildRequest, result: BuildResult): Promise<void> {
  await reportDigests(request, {
    // No manifest when only the local store holds the image (its layers stay uncompressed).
    manifestDigest: result.manifest?.digest ?? '',
    configDigest: result.image.config.descriptor.digest,
    descriptor: result.manifest,
    names: result.names,
  });
}

/**
 * What a build reports, as buildx: -q and --iidfile the image ID (the config's digest),
 * --metadata-file that and, when a manifest was written (push, oci, docker), its digest
 * and descriptor (a local or a remote build's).
 */
async function reportDigests(
  request: BuildRequest,
  result: {
    readonly manifestDigest: string;
    readonly configDigest: string;
    readonly descriptor: unknown;
    readonly names: readonly string[];
  },
): Promise<void> {
  const { manifestDigest, configDigest } = result;
  if (request.quiet) process.stdout.write(`${configDigest}\n`);
  if (request.iidfile !== undefined) await writeFile(request.iidfile, configDigest);
  if (request.metadataFile !== undefined) {
    const metadata = {
      ...(manifestDigest === ''
        ? {}
        : {
            'containerimage.digest': manifestDigest,
            'containerimage.descriptor': result.descriptor,
          }),
      'containerimage.config.digest': configDigest,
      ...(result.names.length > 0 ? { 'image.name': result.names.join(',') } : {}),
    };
    await writeFile(request.metadataFile, `${JSON.stringify(metadata, null, 2)}\n`);
  }
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text;
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
