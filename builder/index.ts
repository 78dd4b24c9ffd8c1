/**
 * builder: one build end to end (read inputs, lower, solve, export), the
 * single entry every surface calls: the CLI, the HTTP service and the Docker
 * API, each with a request, a progress sink and an AbortSignal.
 */
export { dockerignoreExcluder, runBuild, type BuildJob, type BuildResult } from './build.js';
export { parseCsvOptions } from './csv-options.js';
export { parseCallSpec, runCall, type CallJob, type CallResult, type CallSpec } from './call.js';
export { codeFrame, formatCallResult, type CallOutput } from './call-output.js';
export {
  DEFAULT_DOCKER_HOST,
  loadIntoDocker,
  parseDockerHost,
  pingDocker,
  type DockerAddress,
} from './docker-daemon.js';
export { readBuildInputs, readText, type BuildInputs } from './inputs.js';
export { openBuildContext, type OpenedContext } from './context-source.js';
export { describeNamedContexts } from './named-contexts.js';
export {
  parseBuildContexts,
  parseBuildOptions,
  parseOptionalInteger,
  parseOptionalPositiveInteger,
  parseOutput,
  parseSecret,
  parseSsh,
  type BuildOptions,
  type Compression,
  type OptionValues,
  type OutputSpec,
  type OutputType,
  type SecretSpec,
  type SshSpec,
} from './options.js';
export { pushImages, tagImages, writeOutput } from './outputs.js';
export { writeDirectoryOutput, writeFileOutput } from './output-files.js';
export { registrySettings } from './registry-settings.js';
export { resolveRoot } from './root.js';
export {
  createProgressDisplay,
  PlainDisplay,
  PROGRESS_MODES,
  RawJsonDisplay,
  renderTty,
  TtyDisplay,
  type ProgressDisplay,
  type ProgressMode,
  type TextOutput,
} from './progress/index.js';
