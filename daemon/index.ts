/**
 * daemon: `tbuild serve`, the build service. One engine shared by every build,
 * an embedded queue, build records and logs under the root, and an HTTP API
 * (fastify): the native `/v1` API, health checks and Prometheus metrics.
 * With cli/, the only place that reads configuration and the environment.
 */
export {
  DEFAULT_LIMITS,
  loadServiceConfig,
  type Scope,
  type ServeFlags,
  type ServiceConfig,
  type ServiceLimits,
  type TokenEntry,
} from './config.js';
export { DEFAULT_LISTEN, parseListenAddress, type ListenAddress } from './listen-address.js';
export { startService, type RunningService, type ServiceOptions } from './service.js';
