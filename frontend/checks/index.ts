/**
 * frontend/checks: BuildKit's Dockerfile build checks (`docker build --check`),
 * rule for rule with its names, messages and `# check=` options. Parse and FROM
 * checks run over the parsed file; dispatch checks are called by the lowering.
 */
export { ALL_RULES, RULES, kebabCase, type CheckRule, type RuleName } from './rules.js';
export { DEFAULT_CHECK_OPTIONS, parseCheckOptions, type CheckOptions } from './options.js';
export { CHECK_BUILD_ARG, checkOptionsFor, syntaxWarning } from './config.js';
export { Linter, formatWarningShort, type CheckWarning } from './linter.js';
export { runParseChecks } from './parse-rules.js';
export { runFromChecks, type FromCheckInput } from './from-rules.js';
export { DispatchChecks, type StageView } from './dispatch-rules.js';
export { ignoredByDockerignore } from './dockerignore.js';
export { docComment, precedingComments } from './source-lines.js';
