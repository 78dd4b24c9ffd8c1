import { readFileSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { TbuildError, type Logger } from '../../core/index.js';
import { builderService, type ClientMessage, type ServerMessage } from '../../remote/index.js';
import type { TlsFiles } from '../config.js';
import { formatListenAddress, type ListenAddress } from '../listen-address.js';
import { handleBuildCall, type BuildCallParts } from './build-call.js';

export interface RunningGrpcServer {
  /** Where it listens, as `tcp://HOST:PORT` (the port chosen when 0 was asked) or `unix:///…`. */
  readonly addresses: readonly string[];
  /** Takes no new calls; open ones are cut after `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

/** Messages of a context file or an output are at most a chunk; the Start holds the listing. */
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/**
 * `tbuild serve --grpc ADDR`: the remote builder API (proto/tbuild/v1) on each
 * address, with the service's TLS (client certificates when a CA is set) on
 * TCP, and its tokens checked on every call.
 */
export async function startGrpcServer(options: {
  readonly addresses: readonly ListenAddress[];
  readonly tls?: TlsFiles;
  readonly parts: BuildCallParts;
  readonly logger: Logger;
}): Promise<RunningGrpcServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  });
  server.addService(builderService().service, {
    Build: (call: grpc.ServerDuplexStream<ClientMessage, ServerMessage>) => {
      handleBuildCall(options.parts, call).catch((error: unknown) => {
        options.logger.error('a remote build call failed', { error: String(error) });
      });
    },
  });
  const bound: string[] = [];
  try {
    for (const address of options.addresses) bound.push(await bind(server, address, options.tls));
  } catch (error) {
    server.forceShutdown();
    throw error;
  }
  return {
    addresses: bound,
    stop: async (graceMs) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          server.tryShutdown(() => {
            resolve();
          });
        }),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
      server.forceShutdown();
    },
  };
}

async function bind(
  server: grpc.Server,
  address: ListenAddress,
  tls: TlsFiles | undefined,
): Promise<string> {
  let target: string;
  let credentials = grpc.ServerCredentials.createInsecure();
  if (address.kind === 'unix') {
    await mkdir(dirname(address.path), { recursive: true });
    await rm(address.path, { force: true });
    target = `unix://${address.path}`;
  } else {
    target = address.host.includes(':')
      ? `[${address.host}]:${String(address.port)}`
      : `${address.host}:${String(address.port)}`;
    if (tls !== undefined) {
      const ca = tls.ca === undefined ? null : readFileSync(tls.ca);
      credentials = grpc.ServerCredentials.createSsl(
        ca,
        [{ cert_chain: readFileSync(tls.cert), private_key: readFileSync(tls.key) }],
        ca !== null,
      );
    }
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(target, credentials, (error, chosen) => {
      if (error === null) resolve(chosen);
      else
        reject(
          new TbuildError(
            'TB_SERVICE_CONFIG',
            `cannot serve gRPC on ${formatListenAddress(address)}`,
            { hint: error.message, cause: error },
          ),
        );
    });
  });
  if (address.kind === 'unix') {
    await chmod(address.path, 0o660);
    return formatListenAddress(address);
  }
  return formatListenAddress({ kind: 'tcp', host: address.host, port });
}
