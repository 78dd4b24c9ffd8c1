/** The test harness: requirements, fixtures and real services for integration and e2e tests. */
export { missingRequirements, requires, type Requirement } from './requires.js';
export {
  startRegistry,
  type RegistryAuthSetup,
  type RegistryOptions,
  type TestRegistry,
} from './registry.js';
export {
  startTokenServer,
  type IssuedToken,
  type TestTokenServer,
  type TokenServerOptions,
} from './token-server.js';
export {
  startFaultProxy,
  type Fault,
  type FaultProxy,
  type FaultRule,
  type ProxiedRequest,
} from './fault-proxy.js';
export {
  BUSYBOX_GROUP,
  BUSYBOX_PASSWD,
  buildBusyboxRootfs,
  freshOverlayDirs,
  removeTree,
} from './busybox-rootfs.js';
export { startDockerd, type TestDockerd } from './dockerd.js';
export { startGitDaemon, type TestGitDaemon } from './git-daemon.js';
export {
  REPO_ROOT,
  rootWithBusybox,
  runTbuild,
  runTbuildAsync,
  writeContext,
  type CliResult,
} from './tbuild-cli.js';
export { useBuildRoot } from './build-root.js';
export { tarOfFiles } from './context-tar.js';
export { startRedis, type TestRedis } from './redis.js';
export {
  startTbuildService,
  type ServiceStartOptions,
  type TestService,
} from './tbuild-service.js';
