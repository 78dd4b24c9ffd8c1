/** worker/engine: the worker proper: IR ops bound to the store, the sandbox and threads; image export. */
export { openEngine, type Engine, type EngineOptions, type LayersAhead } from './engine.js';
export { SessionRegistry, type BuildSession } from './sessions.js';
export {
  commitImage,
  commitRemoteImage,
  exportImage,
  makeImageManifest,
  makeLayerBlob,
  manifestSettings,
  type ImageExportOptions,
  type StoredImage,
  type LayerCompression,
  type LayerSettings,
} from './image-export.js';
export { normalizeImageName, readLocalImage, chainIds, type LocalImage } from './local-images.js';
/** An image the local store keeps without a manifest, and the manifest it gets when asked. */
export type { ImageDescription, ManifestSettings } from '../../cache/index.js';
export {
  SCRATCH,
  snapshotRef,
  type LocalRef,
  type RemoteBlobSource,
  type RemoteLayer,
  type RemoteRef,
  type SnapshotRef,
  type WorkerRef,
} from './refs.js';
export { fetchRemoteBlobs, materializeRemote } from './remote-layers.js';
export type { BuildStore } from './store.js';
export { collectExplanations, explanationDirs } from './explanations.js';
export { withReadView } from './views.js';
export { loadImageArchive, type LoadedImage } from './load-archive.js';
export { chooseOciLayoutImage, importOciLayoutDir } from './oci-layout-dir.js';
export { unpackImage } from './unpack-image.js';
export { ImagePuller, type BlobProgress, type PullOptions } from './pull.js';
export {
  isBuiltImage,
  pushableManifest,
  pushStoredImage,
  type PushOptions,
  type PushResult,
} from './push.js';
export {
  createRegistryClient,
  registryLogin,
  registryLogout,
  type RegistrySettings,
} from './registry-access.js';
export { openMaintenance, type CacheMountUsage, type StoreMaintenance } from './maintenance.js';
