/**
 * BuildKit's Dockerfile build checks (frontend/dockerfile/linter/ruleset.go): each
 * rule's name, description, documentation URL and message, worded as BuildKit
 * words them so `--check` output and warnings read the same as docker buildx.
 */
export interface CheckRule<Args extends readonly string[] = readonly string[]> {
  readonly name: string;
  readonly description: string;
  readonly url: string;
  /** Off unless asked for with `# check=experimental=Name` (or `experimental=all`). */
  readonly experimental: boolean;
  readonly format: (...args: Args) => string;
}

const RULE_URL = 'https://docs.docker.com/go/dockerfile/rule/';

/** `JSONArgsRecommended` → `json-args-recommended`, as the rule's documentation page is named. */
export function kebabCase(name: string): string {
  return name
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase();
}

function rule<Args extends readonly string[]>(
  name: string,
  description: string,
  format: (...args: Args) => string,
  experimental = false,
): CheckRule<Args> {
  return { name, description, url: `${RULE_URL}${kebabCase(name)}/`, experimental, format };
}

/** Go's %q for the strings these messages quote (no control characters expected in names). */
function quoted(text: string): string {
  return JSON.stringify(text);
}

export const RULES = {
  StageNameCasing: rule(
    'StageNameCasing',
    'Stage names should be lowercase',
    (stageName: string) => `Stage name '${stageName}' should be lowercase`,
  ),
  FromAsCasing: rule(
    'FromAsCasing',
    "The 'as' keyword should match the case of the 'from' keyword",
    (from: string, as: string) => `'${as}' and '${from}' keywords' casing do not match`,
  ),
  NoEmptyContinuation: rule(
    'NoEmptyContinuation',
    'Empty continuation lines will become errors in a future release',
    () => 'Empty continuation line',
  ),
  ConsistentInstructionCasing: rule(
    'ConsistentInstructionCasing',
    'All commands within the Dockerfile should use the same casing (either upper or lower)',
    (command: string, casing: string) =>
      `Command '${command}' should match the case of the command majority (${casing})`,
  ),
  DuplicateStageName: rule(
    'DuplicateStageName',
    'Stage names should be unique',
    (stageName: string) =>
      `Duplicate stage name ${quoted(stageName)}, stage names should be unique`,
  ),
  ReservedStageName: rule(
    'ReservedStageName',
    'Reserved words should not be used as stage names',
    (stageName: string) =>
      `Stage name should not use the same name as reserved stage ${quoted(stageName)}`,
  ),
  JSONArgsRecommended: rule(
    'JSONArgsRecommended',
    'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals',
    (instruction: string) =>
      `JSON arguments recommended for ${instruction} to prevent unintended behavior related to OS signals`,
  ),
  MaintainerDeprecated: rule(
    'MaintainerDeprecated',
    'The MAINTAINER instruction is deprecated, use a label instead to define an image author',
    () => 'Maintainer instruction is deprecated in favor of using label',
  ),
  UndefinedArgInFrom: rule(
    'UndefinedArgInFrom',
    'FROM command must use declared ARGs',
    (arg: string, suggestion: string) =>
      `FROM argument '${arg}' is not declared${suggestion === '' ? '' : ` (did you mean ${suggestion}?)`}`,
  ),
  WorkdirRelativePath: rule(
    'WorkdirRelativePath',
    'Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes',
    (workdir: string) =>
      `Relative workdir ${quoted(workdir)} can have unexpected results if the base image changes`,
  ),
  UndefinedVar: rule(
    'UndefinedVar',
    'Variables should be defined before their use',
    (name: string, suggestion: string) =>
      `Usage of undefined variable '$${name}'${suggestion === '' ? '' : ` (did you mean $${suggestion}?)`}`,
  ),
  MultipleInstructionsDisallowed: rule(
    'MultipleInstructionsDisallowed',
    'Multiple instructions of the same type should not be used in the same stage',
    (instruction: string) =>
      `Multiple ${instruction} instructions should not be used in the same stage because only the last one will be used`,
  ),
  LegacyKeyValueFormat: rule(
    'LegacyKeyValueFormat',
    'Legacy key/value format with whitespace separator should not be used',
    (command: string) =>
      `"${command} key=value" should be used instead of legacy "${command} key value" format`,
  ),
  RedundantTargetPlatform: rule(
    'RedundantTargetPlatform',
    'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
    (platformVar: string) =>
      `Setting platform to predefined ${platformVar} in FROM is redundant as this is the default behavior`,
  ),
  SecretsUsedInArgOrEnv: rule(
    'SecretsUsedInArgOrEnv',
    'Sensitive data should not be used in the ARG or ENV commands',
    (instruction: string, key: string) =>
      `Do not use ARG or ENV instructions for sensitive data (${instruction} ${quoted(key)})`,
  ),
  InvalidDefaultArgInFrom: rule(
    'InvalidDefaultArgInFrom',
    'Default value for global ARG results in an empty or invalid base image name',
    (baseName: string) =>
      `Default value for ARG ${baseName} results in empty or invalid base image name`,
  ),
  FromPlatformFlagConstDisallowed: rule(
    'FromPlatformFlagConstDisallowed',
    'FROM --platform flag should not use a constant value',
    (platform: string) => `FROM --platform flag should not use constant value ${quoted(platform)}`,
  ),
  CopyIgnoredFile: rule(
    'CopyIgnoredFile',
    'Attempting to Copy file that is excluded by .dockerignore',
    (command: string, file: string) =>
      `Attempting to ${command} file ${quoted(file)} that is excluded by .dockerignore`,
  ),
  InvalidDefinitionDescription: rule(
    'InvalidDefinitionDescription',
    'Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.',
    (instruction: string, name: string) =>
      `Comment for ${instruction} should follow the format: \`# ${name} <description>\``,
    true,
  ),
  ExposeProtoCasing: rule(
    'ExposeProtoCasing',
    'Protocol in EXPOSE instruction should be lowercase',
    (port: string) => `Defined protocol '${port}' in EXPOSE instruction should be lowercase`,
  ),
  ExposeInvalidFormat: rule(
    'ExposeInvalidFormat',
    'IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release',
    (port: string) =>
      `EXPOSE instruction should not define an IP address or host-port mapping, found '${port}'`,
  ),
} as const;

export type RuleName = keyof typeof RULES;

/** Every rule, in the order docs/checks.md lists them. */
export const ALL_RULES: readonly CheckRule<never>[] = Object.values(RULES);
