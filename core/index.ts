/**
 * core: the shared leaf. Errors and their catalog, digests, canonical JSON,
 * progress events, the logger interface and abort helpers.
 * Imports Node built-ins only; every other module may import it.
 */
export {
  ERROR_CATALOG,
  TbuildError,
  isErrorCode,
  isTbuildError,
  toTbuildError,
  type ErrorClass,
  type ErrorCode,
  type SerializedError,
  type SourceLocation,
  type TbuildErrorOptions,
} from './errors.js';
export { formatCodeFrame, formatError } from './format-error.js';
export { cutLine, LINE_LIMIT_BYTES, showControls, terminalText } from './terminal-text.js';
export { decodeRawText, encodeRawText, wellFormedText } from './raw-text.js';
export { digestHex, isDigest, parseDigest, sha256Digest, type Digest } from './digest.js';
export { canonicalDigest, canonicalJson } from './canonical-json.js';
export {
  MEDIA_TYPES,
  type ContainerConfig,
  type Descriptor,
  type HistoryEntry,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type OciPlatform,
} from './oci.js';
export type {
  BuildWarning,
  CacheMissReason,
  KeyComponentComparison,
  ProgressEvent,
  ProgressSink,
  VertexCached,
  VertexCacheMiss,
  VertexCanceled,
  VertexCompleted,
  VertexFailed,
  VertexLog,
  VertexStarted,
  VertexStatus,
} from './progress.js';
export { discardProgress } from './progress.js';
export { noopLogger, type LogFields, type Logger } from './logger.js';
export { closestMatch, editDistance } from './suggest.js';
export { canceledError, neverAborted, throwIfAborted } from './abort.js';
export { mapLimit } from './parallel.js';
export {
  faultInjector,
  parseFaultSpec,
  type FaultSpec,
  type InjectedErrno,
  type WriteFaults,
} from './faults.js';
