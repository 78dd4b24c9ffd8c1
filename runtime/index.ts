/**
 * runtime: the Executor interface and the native sandbox that runs RUN steps,
 * plus the filesystem primitives Node lacks (mknod, xattrs, mount, in-root
 * resolution) for the layer code. Imports core only. See docs/runtime.md.
 */
export {
  MountFlags,
  UmountFlags,
  XattrFlags,
  nativeFs,
  type InRootOptions,
  type NativeFs,
  type ScanOptions,
} from './native-fs.js';
export { ScannedDirectory, ScannedEntry } from './scanned-directory.js';
export {
  MAX_OVERLAY_OPTIONS,
  OVERLAY_FEATURES,
  relativeOverlay,
  type OverlayLayers,
  type RelativeOverlay,
} from './overlay-options.js';
export { nativeBuildPath } from './native/addon.js';
export { Sha256Stream } from './sha256-stream.js';
export type {
  CacheSharing,
  Executor,
  NetworkMode,
  OverlayRootfs,
  ProcessSpec,
  ResourceLimits,
  RunOptions,
  RunResult,
  RunSpec,
  RunTiming,
  RunningStep,
  SandboxExecutorOptions,
  SandboxMount,
} from './types.js';
export { SandboxExecutor } from './sandbox-executor.js';
export { removeStaleNetworkState } from './network/default-network.js';
export { resolveUser, type ResolvedUser, type UserDatabase } from './user.js';
export {
  compileSeccomp,
  encodeBpf,
  DOCKER_DEFAULT_PROFILE,
  type BpfInstruction,
  type SeccompProfile,
} from './seccomp/index.js';
