import {
  dockerignoreExcluder,
  formatCallResult,
  openBuildContext,
  readBuildInputs,
  registrySettings,
  resolveRoot,
  runCall,
  type CallSpec,
} from '../../builder/index.js';
import { TbuildError } from '../../core/index.js';
import { emptyImageResolver, type ImageMetaResolver } from '../../frontend/index.js';
import { openEngine, type Engine } from '../../worker/index.js';
import type { BuildRequest } from '../build-options.js';
import { readStdin, readStdinBytes } from '../stdin.js';

/**
 * `tbuild build --call=check|outline|targets` (and `--check`): the answer on
 * standard output as buildx prints it, nothing built. Only `check` opens the
 * engine: it resolves base images as a build does, for their ENV (UndefinedVar).
 */
export async function runCallCommand(request: BuildRequest, spec: CallSpec): Promise<number> {
  const controller = new AbortController();
  const interrupt = (): void => {
    controller.abort(new TbuildError('TB_CANCELED', 'canceled by the user'));
  };
  process.once('SIGINT', interrupt);
  const context = await openBuildContext(request.contextPath, {
    signal: controller.signal,
    readStdin: readStdinBytes,
    dockerfileFromStdin: request.dockerfile === '-',
  });
  let engine: Engine | undefined;
  try {
    const inputs = await readBuildInputs({
      contextDir: context.dir,
      dockerfile: context.dockerfilePath(request.dockerfile),
      readStdin,
    });
    let resolver: ImageMetaResolver = emptyImageResolver;
    if (spec.name === 'check') {
      const opened = await openEngine({
        root: resolveRoot(request.root, process.env),
        excluder: dockerignoreExcluder,
        registry: registrySettings(process.env),
      });
      engine = opened;
      resolver = {
        resolve: (ref, options) =>
          opened.resolveImage(ref, { pull: request.pull, signal: options.signal }),
      };
    }
    const result = await runCall({
      spec,
      options: request,
      inputs,
      resolver,
      signal: controller.signal,
    });
    const output = formatCallResult(spec, result);
    process.stdout.write(output.stdout);
    if (output.error !== undefined) process.stderr.write(`ERROR: ${output.error}`);
    return output.exitCode;
  } finally {
    process.off('SIGINT', interrupt);
    await engine?.close();
    await context.close();
  }
}
