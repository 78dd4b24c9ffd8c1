import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { noopLogger, TbuildError, type Logger } from '../core/index.js';
import { dockerignoreExcluder } from '../builder/index.js';
import { openEngine, type Engine, type RegistrySettings } from '../worker/index.js';
import { BuildManager } from './builds/build-manager.js';
import type { Builds } from './builds/builds.js';
import { BuildsWithCacheDefaults } from './builds/cache-defaults.js';
import { ClusterBuilds } from './cluster/cluster-builds.js';
import { RecordStore } from './builds/record-store.js';
import type { ServiceConfig } from './config.js';
import { registerDockerApi } from './docker-api/index.js';
import { createApp } from './http/app.js';
import { formatListenAddress, type ListenAddress } from './listen-address.js';
import { ServiceMetrics } from './metrics.js';
import { registerWebView } from './web/register-web-view.js';
import { ContextCopies } from './grpc/context-copies.js';
import { startGrpcServer, type RunningGrpcServer } from './grpc/grpc-server.js';

/** How long a computed store size is reused by /metrics (a walk of the store is not free). */
const STORE_SIZE_TTL_MS = 60_000;

export interface RunningService {
  /** Where it listens, as `tcp://127.0.0.1:PORT` (the port chosen when 0 was asked) or `unix:///…`. */
  readonly addresses: readonly string[];
  /** Where the remote builder API (gRPC) is served, in the same form. */
  readonly grpcAddresses: readonly string[];
  readonly app: FastifyInstance;
  readonly manager: Builds;
  /** Stops taking builds, lets running ones finish within the grace period, closes everything. */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  readonly config: ServiceConfig;
  readonly registry?: RegistrySettings;
  readonly maxParallelism?: number;
  /** fastify's pino options (JSON lines); false for none. */
  readonly httpLogger: NonNullable<FastifyServerOptions['logger']>;
  readonly logger?: Logger;
  /** Routes of further surfaces (Docker API, web view), given the pieces they need. */
  readonly extraRoutes?: readonly ((app: FastifyInstance, service: ServiceParts) => void)[];
}

/** What the surfaces of the service share. */
export interface ServiceParts {
  readonly config: ServiceConfig;
  readonly engine: Engine;
  readonly manager: Builds;
  readonly records: RecordStore;
  /** How the engine reaches registries (a push with the caller's credentials needs its hosts). */
  readonly registry?: RegistrySettings;
}

/**
 * `tbuild serve`: one engine on the root, shared by every build (work in
 * flight and the store), the build manager and its queue, and the HTTP app
 * served on every listen address.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config } = options;
  const logger = options.logger ?? noopLogger;
  const engine = await openEngine({
    root: config.root,
    logger,
    excluder: dockerignoreExcluder,
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(options.maxParallelism === undefined ? {} : { maxParallelism: options.maxParallelism }),
  });
  const records = await RecordStore.open(config.root, logger);
  const metrics = new ServiceMetrics(storeSize(engine));
  // With --queue the builds are the nodes' shared ones (Redis); else this node's own queue.
  const queue = config.queue;
  const builds: Builds = await (
    queue === undefined
      ? BuildManager.open({
          engine,
          store: records,
          metrics,
          logger,
          maxConcurrentBuilds: config.maxConcurrentBuilds,
          maxQueue: config.maxQueue,
        })
      : ClusterBuilds.open({ engine, config: { ...config, queue }, records, metrics, logger })
  ).catch(async (error: unknown) => {
    await engine.close();
    throw error;
  });
  const cacheDefaults = config.cache.cacheFrom !== undefined || config.cache.cacheTo !== undefined;
  const manager = cacheDefaults ? new BuildsWithCacheDefaults(builds, config.cache) : builds;
  const parts: ServiceParts = {
    config,
    engine,
    manager,
    records,
    ...(options.registry === undefined ? {} : { registry: options.registry }),
  };
  const app = await createApp({
    config,
    manager,
    records,
    metrics,
    logger: options.httpLogger,
    extraRoutes: [registerDockerApi, registerWebView, ...(options.extraRoutes ?? [])].map(
      (register) => (target) => {
        register(target, parts);
      },
    ),
  });
  const servers: Server[] = [];
  const addresses: string[] = [];
  let grpc: RunningGrpcServer | undefined;
  try {
    for (const address of config.listen) {
      const server = makeServer(app, config, address);
      addresses.push(await listen(server, address));
      servers.push(server);
    }
    if (config.grpc.length > 0)
      grpc = await startGrpcServer({
        addresses: config.grpc,
        ...(config.tls === undefined ? {} : { tls: config.tls }),
        parts: { config, manager, copies: new ContextCopies(config.root) },
        logger,
      });
  } catch (error) {
    await Promise.all(servers.map((server) => closeServer(server)));
    await engine.close();
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    addresses,
    grpcAddresses: grpc?.addresses ?? [],
    app,
    manager,
    stop: () =>
      (stopped ??= (async () => {
        // Stop accepting first; then let running builds end, then close what is left.
        const closing = Promise.all(servers.map((server) => closeServer(server)));
        const grpcClosing = grpc?.stop(config.shutdownGraceSeconds * 1000);
        await manager.stop(config.shutdownGraceSeconds * 1000);
        await grpcClosing;
        for (const server of servers) server.closeAllConnections();
        await closing;
        await app.close();
        await engine.close();
      })()),
  };
}

function makeServer(app: FastifyInstance, config: ServiceConfig, address: ListenAddress): Server {
  const handler = (
    request: Parameters<FastifyInstance['routing']>[0],
    response: Parameters<FastifyInstance['routing']>[1],
  ): void => {
    app.routing(request, response);
  };
  const base = { maxHeaderSize: config.limits.headerBytes };
  if (address.kind === 'tcp' && config.tls !== undefined) {
    const ca = config.tls.ca === undefined ? undefined : readFileSync(config.tls.ca);
    return createHttpsServer(
      {
        ...base,
        cert: readFileSync(config.tls.cert),
        key: readFileSync(config.tls.key),
        ...(ca === undefined ? {} : { ca, requestCert: true, rejectUnauthorized: true }),
      },
      handler,
    );
  }
  return createHttpServer(base, handler);
}

async function listen(server: Server, address: ListenAddress): Promise<string> {
  if (address.kind === 'unix') {
    await mkdir(dirname(address.path), { recursive: true });
    // A socket file left by a service that died is in the way; a live service's is too,
    // but then its owner is running twice on one root, which the operator must settle.
    await rm(address.path, { force: true });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => {
      reject(
        new TbuildError('TB_SERVICE_CONFIG', `cannot listen on ${formatListenAddress(address)}`, {
          hint: String(error),
          cause: error,
        }),
      );
    });
    if (address.kind === 'unix') server.listen(address.path, resolve);
    else server.listen(address.port, address.host, resolve);
  });
  if (address.kind === 'unix') {
    await chmod(address.path, 0o660);
    return formatListenAddress(address);
  }
  const bound = server.address() as AddressInfo;
  return formatListenAddress({ kind: 'tcp', host: address.host, port: bound.port });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

function storeSize(engine: Engine): () => Promise<number> {
  let cached: { at: number; bytes: number } | undefined;
  return async () => {
    if (cached !== undefined && Date.now() - cached.at < STORE_SIZE_TTL_MS) return cached.bytes;
    const usage = await engine.store.diskUsage(AbortSignal.timeout(30_000));
    cached = { at: Date.now(), bytes: usage.totalBytes };
    return cached.bytes;
  };
}
