import { createHash } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { readBuildInputs, type ProgressDisplay } from '../../builder/index.js';
import { TbuildError } from '../../core/index.js';
import {
  CLIENT_ONLY_FLAGS,
  runRemoteBuild,
  type BuilderEndpoint,
  type RemoteBuildResult,
} from '../../remote/index.js';
import type { BuildRequest } from '../build-options.js';
import { readStdin } from '../stdin.js';
import { clientId, configDir, type NamedBuilder } from './builder-store.js';
import { outputWriter } from './output-writers.js';

/**
 * `tbuild build --builder …`: the same request a local build takes, sent to a
 * remote builder; its progress shows in the same display, and its secrets and
 * ssh agents are served from this machine.
 */
export async function buildRemotely(options: {
  readonly request: BuildRequest;
  readonly builder: NamedBuilder;
  readonly contextDir: string;
  readonly dockerfile: string | undefined;
  readonly secrets: ReadonlyMap<string, () => Promise<Uint8Array>>;
  readonly sshSockets: ReadonlyMap<string, string>;
  readonly display: ProgressDisplay;
  readonly signal: AbortSignal;
}): Promise<RemoteBuildResult> {
  const { request, signal } = options;
  const inputs = await readBuildInputs({
    contextDir: options.contextDir,
    dockerfile: options.dockerfile,
    readStdin,
  });
  const key = createHash('sha256')
    .update(`${await clientId(configDir(process.env))}\0${await realpath(options.contextDir)}`)
    .digest('hex');
  return runRemoteBuild({
    builder: await endpoint(options.builder),
    options: sentOptions(request, options.secrets, options.sshSockets),
    contextDir: options.contextDir,
    dockerfileText: inputs.dockerfileText,
    dockerfileName: inputs.dockerfileName,
    dockerignore: inputs.dockerignore,
    contextKey: key,
    secrets: options.secrets,
    sshSockets: options.sshSockets,
    writeOutput: outputWriter(request.outputs, process.env, signal),
    progress: options.display.sink,
    signal,
  });
}

/**
 * The flags the builder gets: all but the client's own, with build args
 * resolved here (`--build-arg NAME` reads this environment, SOURCE_DATE_EPOCH
 * too), and secrets and ssh agents by id only, for those this client can serve.
 */
function sentOptions(
  request: BuildRequest,
  secrets: ReadonlyMap<string, () => Promise<Uint8Array>>,
  sshSockets: ReadonlyMap<string, string>,
): Record<string, readonly string[]> {
  const { lists, strings, booleans } = request.flagValues;
  const given: [string, readonly string[]][] = [
    ...lists,
    ...[...strings].map(([name, value]): [string, readonly string[]] => [name, [value]]),
    ...[...booleans].map(([name, value]): [string, readonly string[]] => [name, [String(value)]]),
  ];
  const replaced = new Set([...CLIENT_ONLY_FLAGS, 'build-arg', 'secret', 'ssh']);
  const sent = new Map(given.filter(([name]) => !replaced.has(name)));
  if (request.buildArgs.size > 0)
    sent.set(
      'build-arg',
      [...request.buildArgs].map(([name, value]) => `${name}=${value}`),
    );
  if (secrets.size > 0)
    sent.set(
      'secret',
      [...secrets.keys()].map((id) => `id=${id}`),
    );
  if (sshSockets.size > 0) sent.set('ssh', [...sshSockets.keys()]);
  return Object.fromEntries(sent);
}

/** The builder's TLS files and token, read now. */
async function endpoint(builder: NamedBuilder): Promise<BuilderEndpoint> {
  const read = async (path: string | undefined, what: string): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (error) {
      throw new TbuildError('TB_FILE_READ', `cannot read the builder's ${what} ${path}`, {
        cause: error,
      });
    }
  };
  const ca = await read(builder.tlsCa, 'TLS CA');
  const cert = await read(builder.tlsCert, 'TLS certificate');
  const key = await read(builder.tlsKey, 'TLS key');
  const envToken = process.env['TBUILD_BUILDER_TOKEN'];
  const token =
    envToken !== undefined && envToken !== ''
      ? envToken
      : (await read(builder.tokenFile, 'token file'))?.toString('utf8').trim();
  const tls =
    ca === undefined && cert === undefined
      ? undefined
      : {
          ...(ca === undefined ? {} : { ca }),
          ...(cert === undefined ? {} : { cert }),
          ...(key === undefined ? {} : { key }),
        };
  return {
    address: builder.address,
    ...(tls === undefined ? {} : { tls }),
    ...(token === undefined || token === '' ? {} : { token }),
  };
}
