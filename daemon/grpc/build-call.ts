import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { mkdir, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { decodeRawText, TbuildError, toTbuildError } from '../../core/index.js';
import {
  parseBuildOptions,
  type BuildOptions,
  type BuildResult,
  type OutputSpec,
} from '../../builder/index.js';
import {
  CHUNK_BYTES,
  encodeProgress,
  CLIENT_ONLY_FLAGS,
  type ClientMessage,
  type OutputKind,
  type Result,
  type ServerMessage,
  type Start,
} from '../../remote/index.js';
import type { Builds } from '../builds/builds.js';
import type { ServiceConfig } from '../config.js';
import { authenticate, requireScope } from '../http/auth.js';
import {
  checkBuildContexts,
  checkCaches,
  checkEntitlements,
  queryValues,
} from '../http/build-query.js';
import { ClientRequests } from './client-requests.js';
import { FileReceiver, finishSync, planSync, type ContextCopies } from './context-copies.js';

export interface BuildCallParts {
  readonly config: ServiceConfig;
  readonly manager: Builds;
  readonly copies: ContextCopies;
}

type BuildCall = grpc.ServerDuplexStream<ClientMessage, ServerMessage>;

/** An output the server writes to a scratch file and streams back to the client. */
interface StreamedOutput {
  readonly index: number;
  readonly kind: OutputKind;
  readonly path: string;
}

/**
 * One `Build` call: authenticate, sync the context into the caller's kept
 * copy, queue the build on the service's BuildManager with secrets and ssh
 * served by the client, stream progress, then the outputs, then the outcome.
 * A cancelled call cancels the build.
 */
export async function handleBuildCall(parts: BuildCallParts, call: BuildCall): Promise<void> {
  const { config, manager, copies } = parts;
  const send = (message: ServerMessage): boolean =>
    call.cancelled || call.writableEnded ? true : call.write(message);
  let buildId: string | undefined;
  call.on('cancelled', () => {
    if (buildId !== undefined) void manager.cancel(buildId).catch(() => undefined);
  });
  const messages = call[Symbol.asyncIterator]() as AsyncIterator<ClientMessage>;
  const scratch = join(config.root, 'v1', 'service', 'remote', randomUUID());
  let held: { release(): void } | undefined;
  let requests: ClientRequests | undefined;
  let receiver: FileReceiver | undefined;
  try {
    const caller = authenticate(config.tokens, metadataText(call.metadata, 'authorization'));
    requireScope(caller, 'build');
    const first = await messages.next();
    const start =
      first.done !== true && first.value.kind === 'start' ? first.value.start : undefined;
    if (start === undefined)
      throw new TbuildError('TB_SERVICE_REQUEST', 'a Build call must begin with a Start message');
    const options = readOptions(start);
    checkEntitlements(options, config);
    checkBuildContexts(options);
    checkCaches(options);
    const copy = await copies.hold(caller.name, start.context_key);
    held = copy;
    const plan = await planSync(copy.tree, start.listing_gz);
    send({ sync: { entries: plan.fetch } });
    receiver = new FileReceiver(copy.tree, plan);
    while (!receiver.done) {
      const next = await messages.next();
      if (next.done === true)
        throw new TbuildError('TB_SERVICE_REQUEST', 'the client ended the call during the sync');
      if (next.value.kind === 'file') {
        const { file } = next.value;
        await receiver.chunk(file.entry, file.data, file.last);
      }
    }
    await finishSync(copy.tree, plan);
    const clientRequests = new ClientRequests(send);
    requests = clientRequests;
    void pumpClientMessages(messages, clientRequests);
    await mkdir(scratch, { recursive: true, mode: 0o700 });
    const { serverOptions, streamed } = streamedOutputs(options, scratch);
    const sshSockets = await clientRequests.sshSockets(
      options.ssh.map((spec) => spec.id),
      scratch,
    );
    let outcome: { result?: BuildResult; error?: TbuildError } | undefined;
    const id = manager.newId();
    await manager.submit({
      id,
      owner: caller.name,
      options: serverOptions,
      shownOptions: shownOptions(start),
      contextDir: copy.tree,
      dockerfile: start.dockerfile_name === '' ? 'Dockerfile' : start.dockerfile_name,
      inputs: { dockerfileText: decodeRawText(start.dockerfile), dockerignore: start.dockerignore },
      secrets: clientRequests.secretReaders(options.secrets.map((secret) => secret.id)),
      sshSockets,
      watch: (event) => send({ progress: encodeProgress(event) }),
      onFinish: (finished) => (outcome = finished),
    });
    buildId = id;
    if (call.cancelled) await manager.cancel(id);
    send({
      accepted: { build_id: id, files_received: plan.fetch.length, bytes_received: receiver.bytes },
    });
    await manager.watch(id, () => undefined).done;
    const result = outcome?.result;
    if (result === undefined) {
      const recorded = (await manager.get(id)).error;
      throw (
        outcome?.error ??
        new TbuildError(
          recorded?.code === 'TB_SERVICE_STOPPING' ? 'TB_SERVICE_STOPPING' : 'TB_CANCELED',
          recorded?.message ?? 'the build ended without a result',
        )
      );
    }
    for (const output of streamed) await streamOutput(call, send, output);
    send({ result: resultMessage(result) });
  } catch (caught) {
    const error = toTbuildError(caught);
    send({ error: { error: JSON.stringify(error.toJSON()) } });
  } finally {
    await receiver?.abandon();
    requests?.close();
    held?.release();
    if (!call.cancelled && !call.writableEnded) call.end();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The outcome the client reports as a local build would (-q, --iidfile, --metadata-file). */
function resultMessage(result: BuildResult): Result {
  return {
    manifest_digest: result.manifest?.digest ?? '',
    config_digest: result.image.config.descriptor.digest,
    manifest_descriptor: result.manifest === undefined ? '' : JSON.stringify(result.manifest),
    names: [...result.names],
  };
}

function metadataText(metadata: grpc.Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : value?.toString('utf8');
}

/**
 * The Start's options read as the HTTP API reads its query. A name the build
 * options never read (a flag of a newer client) is refused, not dropped.
 */
function readOptions(start: Start): BuildOptions {
  const query: Record<string, readonly string[]> = {};
  for (const [name, { values }] of Object.entries(start.options)) query[name] = values;
  const values = queryValues(query);
  const read = new Set<string>();
  const options = parseBuildOptions(
    {
      list: (name) => (read.add(name), values.list(name)),
      string: (name) => (read.add(name), values.string(name)),
      boolean: (name) => (read.add(name), values.boolean(name)),
    },
    {},
  );
  for (const name of Object.keys(query)) {
    if (!read.has(name) || CLIENT_ONLY_FLAGS.includes(name))
      throw new TbuildError('TB_SERVICE_REQUEST', `this builder does not take --${name}`, {
        hint: 'the client is newer than the builder: update tbuild serve, or leave the flag out',
      });
  }
  return options;
}

function shownOptions(start: Start): Record<string, readonly string[]> {
  const shown: Record<string, readonly string[]> = {};
  for (const [name, { values }] of Object.entries(start.options))
    // A build arg's value may be private; the record shows its name.
    shown[name] = name === 'build-arg' ? values.map((value) => value.split('=')[0] ?? '') : values;
  return shown;
}

/**
 * Outputs other than the image store and a push are the client's: the server
 * writes each to a scratch file (a tree as a tar), streamed back after the build.
 */
function streamedOutputs(
  options: BuildOptions,
  scratch: string,
): { serverOptions: BuildOptions; streamed: StreamedOutput[] } {
  const streamed: StreamedOutput[] = [];
  const outputs = options.outputs.map((output, index): OutputSpec => {
    if (output.type === 'image') return output;
    const path = join(scratch, `output-${String(index)}`);
    const kind: OutputKind =
      output.type === 'docker' && output.dest === undefined
        ? 'docker'
        : output.type === 'local' || !output.tar
          ? 'tar'
          : 'file';
    streamed.push({ index, kind, path });
    // A tree (local, oci/docker tar=false) is written as a local build writes it (same
    // exporter, same progress), then streamed as a tar.
    return kind === 'docker' ? { ...output, tar: true, dest: path } : { ...output, dest: path };
  });
  return { serverOptions: { ...options, outputs }, streamed };
}

async function streamOutput(
  call: BuildCall,
  send: (message: ServerMessage) => boolean,
  output: StreamedOutput,
): Promise<void> {
  const { index, kind } = output;
  let previous: Buffer | undefined;
  const tree = kind === 'tar' ? tarOf(output.path) : undefined;
  const source = tree?.stdout ?? createReadStream(output.path, { highWaterMark: CHUNK_BYTES });
  for await (const chunk of source) {
    if (previous !== undefined && !send({ output: { index, kind, data: previous, last: false } }))
      await once(call, 'drain');
    previous = chunk as Buffer;
  }
  if (tree !== undefined) await tree.done;
  send({ output: { index, kind, data: previous ?? Buffer.alloc(0), last: true } });
}

/** A directory as a tar stream (owners by number, as the client unpacks it). */
function tarOf(dir: string): { stdout: Readable; done: Promise<void> } {
  const child = spawn('tar', ['-c', '--numeric-owner', '-C', dir, '.'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new TbuildError('TB_OUTPUT_WRITE', `cannot stream the output ${dir}: ${stderr.trim()}`),
        );
    });
  });
  // Awaited after the stream is read; handled now so a failure while reading is not unhandled.
  done.catch(() => undefined);
  return { stdout: child.stdout, done };
}

/** After the sync, the client only answers: secrets and ssh agent traffic. */
async function pumpClientMessages(
  messages: AsyncIterator<ClientMessage>,
  requests: ClientRequests,
): Promise<void> {
  try {
    for (;;) {
      const next = await messages.next();
      if (next.done === true) return;
      const message = next.value;
      if (message.kind === 'secret') requests.secretReply(message.secret);
      else if (message.kind === 'ssh') requests.sshData(message.ssh);
    }
  } catch {
    // The call was cancelled or broke; the build's own cancel handles the rest.
  }
}
