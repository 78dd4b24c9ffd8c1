/**
 * registry-client: references, auth (anonymous, basic, bearer, docker config.json and
 * credential helpers), manifests and blobs as verified streams, push and mount.
 * Imports core only; the worker stores what it returns.
 */
export {
  DOCKER_HUB,
  familiarName,
  formatReference,
  formatRepository,
  manifestReference,
  parseReference,
  withDigest,
  withTag,
  type ImageReference,
  type RepositoryRef,
} from './reference.js';
export {
  RegistryClient,
  apiHost,
  isLoopbackHost,
  type RegistryClientOptions,
  type RegistryHostConfig,
} from './client.js';
export type { RetryOptions } from './retry.js';
export { parseChallenges, type Challenge } from './challenge.js';
export { parseScope, repositoryScope, unionScopes } from './scope.js';
export {
  anonymousCredentials,
  configKey,
  dockerConfigCredentials,
  dockerConfigDir,
  staticCredentials,
  type Credential,
  type CredentialStore,
  type FoundCredential,
} from './docker-config.js';
export { login, logout, type LoginOptions } from './login.js';
export { redactUrl } from './redact.js';
export {
  MANIFEST_ACCEPT,
  MEDIA_TYPES,
  isImageManifestMediaType,
  isIndexMediaType,
  layerMediaType,
} from './media-types.js';
export {
  parseManifest,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type ParsedManifest,
  type Platform,
} from './manifest-types.js';
export {
  LINUX_AMD64,
  formatPlatform,
  normalisePlatform,
  parsePlatform,
  selectPlatform,
  type PlatformSpec,
} from './platform.js';
export {
  getManifest,
  headManifest,
  putManifest,
  resolveImage,
  type FetchedManifest,
  type ResolvedImage,
} from './manifests.js';
export {
  blobExists,
  fetchBlob,
  fetchBlobBytes,
  type BlobTarget,
  type FetchBlobOptions,
} from './blob-fetch.js';
export {
  pushBlob,
  type BlobSource,
  type PushBlobOptions,
  type PushBlobResult,
} from './blob-push.js';
export {
  buildImageManifest,
  convertLayerMediaType,
  pushImage,
  pushIndex,
  type LayerSource,
  type PushImageInput,
  type PushOptions,
  type PushedImage,
  type PushedManifest,
} from './image-push.js';
export { copyImage } from './copy-image.js';
