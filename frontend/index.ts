/**
 * frontend: Dockerfile → typed instructions → stages → IR plus image config.
 * Imports core and solver/ir only; learns about base images through the
 * ImageMetaResolver interface it declares, never by pulling them itself.
 */
export type * from './dockerfile/instructions.js';
export { parseDockerfile, parseInstruction } from './dockerfile/index.js';
export {
  DEFAULT_PLATFORM,
  emptyImageResolver,
  ENTITLEMENTS,
  formatPlatform,
  lowerDockerfile,
  normalizeImageRef,
  parseGitRef,
  parsePlatform,
  type Entitlement,
  type GitRef,
  type ImageMetaResolver,
  type LoweredBuild,
  type LoweredImageConfig,
  type LoweredStage,
  type LowerOptions,
  type NamedContext,
  type ResolvedImage,
  type StageBase,
} from './convert/index.js';
export {
  chooseDockerignore,
  createIgnoreMatcher,
  parseDockerignore,
  type IgnoreMatcher,
  type IgnoreRule,
} from './dockerignore/index.js';
export {
  ALL_RULES,
  CHECK_BUILD_ARG,
  checkOptionsFor,
  formatWarningShort,
  Linter,
  parseCheckOptions,
  RULES,
  syntaxWarning,
  type CheckOptions,
  type CheckRule,
  type CheckWarning,
} from './checks/index.js';
export {
  listTargets,
  outlineTarget,
  type Outline,
  type OutlineOptions,
  type TargetList,
} from './describe/index.js';
