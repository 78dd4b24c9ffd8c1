import { createReadStream } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import {
  encodeRawText,
  TbuildError,
  type ProgressSink,
  type SerializedError,
} from '../core/index.js';
import { builderService } from './proto.js';
import { encodeListing, listContext, type ListingEntry } from './listing.js';
import {
  CHUNK_BYTES,
  type ClientMessage,
  type OutputKind,
  type ServerMessage,
} from './messages.js';
import { decodeProgress } from './progress-wire.js';

/** How to reach a remote builder: its address and credentials. */
export interface BuilderEndpoint {
  /** `tcp://HOST:PORT` or `unix:///PATH`. */
  readonly address: string;
  /** TLS on TCP: the CA that signed the server's certificate, and the client's certificate and key. */
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  /** A token of the service (`Authorization: Bearer`). */
  readonly token?: string;
}

export interface RemoteBuildJob {
  readonly builder: BuilderEndpoint;
  /** The build's flags by name, as REMOTE_OPTION_NAMES lists them. */
  readonly options: Readonly<Record<string, readonly string[]>>;
  readonly contextDir: string;
  readonly dockerfileText: string;
  readonly dockerfileName: string;
  readonly dockerignore: readonly string[];
  /** This client's name for the context: the server keeps its copy under it. */
  readonly contextKey: string;
  readonly secrets: ReadonlyMap<string, () => Promise<Uint8Array>>;
  readonly sshSockets: ReadonlyMap<string, string>;
  /** Writes output `index` from the bytes streamed back (whole or not at all). */
  readonly writeOutput: (index: number, kind: OutputKind, data: Readable) => Promise<void>;
  readonly progress: ProgressSink;
  readonly signal: AbortSignal;
}

export interface RemoteBuildResult {
  readonly buildId: string;
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly manifestDescriptor: unknown;
  readonly names: readonly string[];
  /** Context files and bytes the server asked for (the changed ones). */
  readonly filesSent: number;
  readonly bytesSent: number;
}

/**
 * Runs a build on a remote builder (`tbuild serve --grpc`): lists the context
 * (.dockerignore applied here), sends the files the server's kept copy lacks,
 * renders the progress streamed back through `progress`, answers secret and
 * ssh agent requests from this machine, writes outputs streamed back.
 * Aborting `signal` cancels the call, which cancels the build.
 */
export async function runRemoteBuild(job: RemoteBuildJob): Promise<RemoteBuildResult> {
  const listing = await listContext(job.contextDir, job.dockerignore);
  const Client = builderService();
  const client = new Client(channelTarget(job.builder.address), credentials(job.builder), {
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
    'grpc.max_send_message_length': 256 * 1024 * 1024,
  });
  const metadata = new grpc.Metadata();
  if (job.builder.token !== undefined) metadata.set('authorization', `Bearer ${job.builder.token}`);
  const call = (
    client as unknown as {
      Build(metadata: grpc.Metadata): grpc.ClientDuplexStream<ClientMessage, ServerMessage>;
    }
  ).Build(metadata);
  const cancel = (): void => {
    call.cancel();
  };
  job.signal.addEventListener('abort', cancel, { once: true });
  const session = new ClientSide(call, job, listing);
  try {
    call.write({
      start: {
        options: Object.fromEntries(
          Object.entries(job.options).map(([name, values]) => [name, { values: [...values] }]),
        ),
        dockerfile: encodeRawText(job.dockerfileText),
        dockerfile_name: job.dockerfileName,
        dockerignore: [...job.dockerignore],
        context_key: job.contextKey,
        listing_gz: encodeListing(listing),
      },
    });
    return await session.run();
  } catch (error) {
    if (job.signal.aborted) throw job.signal.reason ?? error;
    throw error;
  } finally {
    job.signal.removeEventListener('abort', cancel);
    session.close();
    client.close();
  }
}

/** What the client does while the call lasts: answers the server, keeps the outcome. */
class ClientSide {
  readonly #call: grpc.ClientDuplexStream<ClientMessage, ServerMessage>;
  readonly #job: RemoteBuildJob;
  readonly #listing: readonly ListingEntry[];
  readonly #agents = new Map<number, Socket>();
  readonly #outputs = new Map<number, { stream: PassThrough; written: Promise<void> }>();
  #filesSent = 0;
  #bytesSent = 0;
  #buildId = '';

  constructor(
    call: grpc.ClientDuplexStream<ClientMessage, ServerMessage>,
    job: RemoteBuildJob,
    listing: readonly ListingEntry[],
  ) {
    this.#call = call;
    this.#job = job;
    this.#listing = listing;
  }

  async run(): Promise<RemoteBuildResult> {
    let result: RemoteBuildResult | undefined;
    let failure: SerializedError | undefined;
    try {
      for await (const message of this.#call as AsyncIterable<ServerMessage>) {
        switch (message.kind) {
          case 'sync':
            await this.#sendFiles(message.sync.entries);
            break;
          case 'accepted':
            this.#buildId = message.accepted.build_id;
            break;
          case 'progress':
            this.#job.progress(decodeProgress(message.progress));
            break;
          case 'secret':
            void this.#answerSecret(message.secret.request, message.secret.id);
            break;
          case 'ssh':
            this.#agentTraffic(message.ssh);
            break;
          case 'output':
            await this.#outputChunk(message.output);
            break;
          case 'result':
            result = {
              buildId: this.#buildId,
              manifestDigest: message.result.manifest_digest,
              configDigest: message.result.config_digest,
              manifestDescriptor:
                message.result.manifest_descriptor === ''
                  ? undefined
                  : (JSON.parse(message.result.manifest_descriptor) as unknown),
              names: message.result.names,
              filesSent: this.#filesSent,
              bytesSent: this.#bytesSent,
            };
            break;
          case 'error':
            failure = JSON.parse(message.error.error) as SerializedError;
            break;
          case undefined:
            break;
        }
      }
    } catch (error) {
      throw callError(this.#job.builder.address, error);
    }
    if (failure !== undefined) throw TbuildError.fromJSON(failure);
    if (result === undefined)
      throw new TbuildError(
        'TB_BUILDER_UNAVAILABLE',
        `the builder at ${this.#job.builder.address} ended the build without a result`,
      );
    await Promise.all([...this.#outputs.values()].map((output) => output.written));
    return result;
  }

  /** The files the server asked for, in its order, in chunks, waiting when the stream is full. */
  async #sendFiles(entries: readonly number[]): Promise<void> {
    for (const index of entries) {
      const entry = this.#listing[index];
      if (entry === undefined)
        throw new TbuildError('TB_BUILDER_UNAVAILABLE', 'the builder asked for a file not listed');
      let sent = 0;
      for await (const chunk of createReadStream(join(this.#job.contextDir, entry.path), {
        highWaterMark: CHUNK_BYTES,
      })) {
        const data = chunk as Buffer;
        sent += data.length;
        await this.#write({ file: { entry: index, data, last: false } });
      }
      await this.#write({ file: { entry: index, data: Buffer.alloc(0), last: true } });
      this.#filesSent++;
      this.#bytesSent += sent;
    }
  }

  #write(message: ClientMessage): Promise<void> {
    if (this.#call.write(message)) return Promise.resolve();
    return new Promise((resolve) => this.#call.once('drain', resolve));
  }

  async #answerSecret(request: number, id: string): Promise<void> {
    const reader = this.#job.secrets.get(id);
    try {
      if (reader === undefined)
        throw new TbuildError('TB_SECRET_NOT_FOUND', `no secret "${id}" was given to tbuild build`);
      const data = Buffer.from(await reader());
      this.#call.write({ secret: { request, data, error: '' } });
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.#call.write({ secret: { request, data: Buffer.alloc(0), error: text } });
    }
  }

  #agentTraffic(message: {
    connection: number;
    id: string;
    data: Buffer;
    open: boolean;
    close: boolean;
  }): void {
    const { connection, id } = message;
    if (message.open) {
      const path = this.#job.sshSockets.get(id);
      const closed = (): void => {
        if (this.#agents.delete(connection))
          this.#call.write({
            ssh: { connection, id, data: Buffer.alloc(0), open: false, close: true },
          });
      };
      if (path === undefined) {
        this.#call.write({
          ssh: { connection, id, data: Buffer.alloc(0), open: false, close: true },
        });
        return;
      }
      const agent = connect(path);
      this.#agents.set(connection, agent);
      agent.on('data', (data: Buffer) => {
        this.#call.write({ ssh: { connection, id, data, open: false, close: false } });
      });
      agent.on('end', closed);
      agent.on('error', closed);
      return;
    }
    const agent = this.#agents.get(connection);
    if (agent === undefined) return;
    if (message.data.length > 0) agent.write(message.data);
    if (message.close) agent.end();
  }

  async #outputChunk(chunk: {
    index: number;
    kind: OutputKind;
    data: Buffer;
    last: boolean;
  }): Promise<void> {
    let output = this.#outputs.get(chunk.index);
    if (output === undefined) {
      const stream = new PassThrough({ highWaterMark: 4 * CHUNK_BYTES });
      output = { stream, written: this.#job.writeOutput(chunk.index, chunk.kind, stream) };
      // A writer that fails early would leave the stream full: its error is kept for run().
      output.written.catch(() => stream.resume());
      this.#outputs.set(chunk.index, output);
    }
    const room = output.stream.write(chunk.data);
    if (chunk.last) output.stream.end();
    if (!room && !chunk.last) await new Promise((resolve) => output.stream.once('drain', resolve));
  }

  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    for (const output of this.#outputs.values()) output.stream.destroy();
  }
}

function channelTarget(address: string): string {
  if (address.startsWith('unix://')) return address;
  if (address.startsWith('tcp://')) return address.slice('tcp://'.length);
  throw new TbuildError('TB_USAGE', `invalid builder address "${address}"`, {
    hint: 'use tcp://HOST:PORT or unix:///PATH, or the name of a builder (tbuild builder ls)',
  });
}

function credentials(builder: BuilderEndpoint): grpc.ChannelCredentials {
  if (builder.tls === undefined || builder.address.startsWith('unix://'))
    return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(
    builder.tls.ca ?? null,
    builder.tls.key ?? null,
    builder.tls.cert ?? null,
  );
}

/** A failed call as the user sees it: the builder is unreachable, or the call broke. */
function callError(address: string, error: unknown): TbuildError {
  if (error instanceof TbuildError) return error;
  const status = error as Partial<grpc.StatusObject>;
  if (status.code === grpc.status.CANCELLED)
    return new TbuildError('TB_CANCELED', 'canceled by the user');
  return new TbuildError(
    'TB_BUILDER_UNAVAILABLE',
    `cannot build on ${address}: ${status.details ?? String(error)}`,
    {
      hint: "check that tbuild serve --grpc runs there, and the builder's TLS files and token",
      cause: error,
    },
  );
}
