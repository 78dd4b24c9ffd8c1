import { emptyImageResolver, lowerDockerfile } from '../convert/index.js';
import type { ImageMetaResolver } from '../convert/index.js';
import { parseDockerfile } from '../dockerfile/index.js';
import { Linter, type CheckWarning } from './linter.js';
import { checkOptionsFor } from './config.js';

/**
 * Test helper: lowers a Dockerfile with the checks on (options from its own
 * `# check=` directive) and returns `Rule: message (line N)` per warning.
 */
export async function lint(
  text: string,
  options: {
    readonly target?: string;
    readonly allStages?: boolean;
    readonly buildArgs?: ReadonlyMap<string, string>;
    readonly dockerignore?: readonly string[];
    readonly resolver?: ImageMetaResolver;
  } = {},
): Promise<string[]> {
  return (await lintWarnings(text, options)).map(
    (w) => `${w.rule}: ${w.message} (line ${String(w.range?.startLine ?? 0)})`,
  );
}

export async function lintWarnings(
  text: string,
  options: Parameters<typeof lint>[1] = {},
): Promise<CheckWarning[]> {
  const parsed = parseDockerfile(text, { file: 'Dockerfile' });
  const buildArgs = options.buildArgs ?? new Map<string, string>();
  const linter = new Linter(checkOptionsFor(parsed.directives, buildArgs));
  // As BuildKit's lint request: the warnings found before a Dockerfile error still count.
  await lowerDockerfile(parsed, {
    resolver: options.resolver ?? emptyImageResolver,
    signal: AbortSignal.timeout(10_000),
    linter,
    buildArgs,
    allStages: options.allStages ?? options.target === undefined,
    ...(options.target === undefined ? {} : { target: options.target }),
    ...(options.dockerignore === undefined ? {} : { dockerignore: options.dockerignore }),
  }).catch(() => undefined);
  return linter.warnings;
}
