/**
 * worker: binds IR ops to real work with cache, runtime and registry-client; threads/ and exporters/. May import every module below the CLI.
 */
export {
  createThreadPool,
  DEFAULT_GZIP_BLOCK_SIZE,
  gzipParallel,
  InlinePool,
  type ThreadPool,
} from './threads/index.js';
export {
  checksumPath,
  cleanRelative,
  StatCache,
  type ChecksumOptions,
} from './contenthash/index.js';
export {
  buildManifest,
  DeterministicTar,
  DirectorySink,
  serializeBlob,
  shortDockerName,
  writeDockerArchive,
  writeOciLayout,
  type ArchiveSink,
  type ImageBundle,
  type LayerBlob,
} from './exporters/index.js';
export {
  applyLayerTar,
  readTar,
  upperDirToTar,
  type ApplyLayerOptions,
  type ApplyLayerResult,
  type LayerFs,
  type TarEntry,
  type UpperToTarOptions,
} from './layers/index.js';
export {
  applyFileOp,
  applyModeSpec,
  parseModeSpec,
  resolveInRoot,
  resolveOwner,
  type FileOpContext,
} from './fileop/index.js';
export {
  fetchGit,
  fetchHttp,
  gitCacheKey,
  httpCacheKey,
  httpPinnedCacheKey,
  resolveGitCommit,
  unpackArchive,
  type FetchGitOptions,
  type FetchGitResult,
  type FetchHttpOptions,
  type FetchHttpResult,
  type HttpCacheKeyMaterial,
  type UnpackOptions,
} from './sources/index.js';
export {
  chainIds,
  exportImage,
  ImagePuller,
  loadImageArchive,
  unpackImage,
  pushStoredImage,
  registryLogin,
  registryLogout,
  normalizeImageName,
  openEngine,
  openMaintenance,
  readLocalImage,
  SCRATCH,
  withReadView,
  type Engine,
  type EngineOptions,
  type CacheMountUsage,
  type LayerCompression,
  type LayerSettings,
  type PushResult,
  type RegistrySettings,
  type LocalImage,
  type SnapshotRef,
  type StoreMaintenance,
  type WorkerRef,
} from './engine/index.js';
