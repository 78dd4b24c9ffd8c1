/** frontend/convert: stages and lowering of a parsed Dockerfile to IR plus an image config. */
export { lowerDockerfile } from './lower.js';
export { normalizeImageRef } from './image-ref.js';
export { formatPlatform, parsePlatform, DEFAULT_PLATFORM } from './platform.js';
export { emptyImageResolver } from './empty-resolver.js';
export { parseGitRef, type GitRef } from './git-ref.js';
export { ENTITLEMENTS } from './types.js';
export type { LoweredImageConfig } from './image.js';
export type {
  Entitlement,
  ImageMetaResolver,
  LoweredBuild,
  LoweredStage,
  LowerOptions,
  NamedContext,
  ResolvedImage,
  StageBase,
} from './types.js';
