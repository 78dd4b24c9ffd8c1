import type { Directives } from '../dockerfile/index.js';
import { DEFAULT_CHECK_OPTIONS, parseCheckOptions, type CheckOptions } from './options.js';

/** The build arg that overrides the `# check=` directive, as BuildKit's dockerui reads it. */
export const CHECK_BUILD_ARG = 'BUILDKIT_DOCKERFILE_CHECK';

/** The check options of a build: `--build-arg BUILDKIT_DOCKERFILE_CHECK=…` if given, else `# check=`. */
export function checkOptionsFor(
  directives: Directives,
  buildArgs: ReadonlyMap<string, string>,
): CheckOptions {
  const fromArg = buildArgs.get(CHECK_BUILD_ARG);
  if (fromArg !== undefined) return parseCheckOptions(fromArg, `build-arg:${CHECK_BUILD_ARG}`);
  if (directives.check === undefined) return DEFAULT_CHECK_OPTIONS;
  // BuildKit reads the directive's value up to its first space.
  return parseCheckOptions(directives.check.split(' ')[0] ?? '', 'check options');
}

/**
 * `# syntax=docker/dockerfile:1…` names the frontend tbuild implements (any 1.x tag,
 * `-labs` too, with or without docker.io/ and a digest): nothing to say. Any other
 * image would be a different frontend, which tbuild does not run: one warning.
 */
const OWN_FRONTEND =
  /^(?:docker\.io\/)?docker\/dockerfile(?::1(?:[.-][A-Za-z0-9_.-]*)?)?(?:@sha256:[a-f0-9]{64})?$/;

export function syntaxWarning(directives: Directives): string | undefined {
  const image = directives.syntax?.trim().split(/\s+/)[0];
  if (image === undefined || image === '' || OWN_FRONTEND.test(image)) return undefined;
  return `the syntax directive names the frontend image "${image}": tbuild builds with its own Dockerfile frontend and does not run that image`;
}
