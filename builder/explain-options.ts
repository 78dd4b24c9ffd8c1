import { basename, isAbsolute, relative, resolve } from 'node:path';
import { ImportedExplanations, type ExplainOptions } from '../solver/index.js';
import type { BuildInputs } from './inputs.js';

/**
 * Which project a build's steps belong to, for telling why a step missed the
 * cache (solver/explain/): the context's directory on this machine, and the
 * Dockerfile as named inside it (what an imported cache's explanations are
 * matched by on another machine). `imported` receives the explanations a
 * `--cache-from` cache carried.
 */
export function explainOptions(
  inputs: BuildInputs,
  imported: ImportedExplanations = new ImportedExplanations(),
): ExplainOptions {
  const project = resolve(inputs.contextDir);
  const inContext = relative(project, resolve(inputs.dockerfileName));
  const dockerfile =
    inContext === '' || inContext.startsWith('..') || isAbsolute(inContext)
      ? basename(inputs.dockerfileName)
      : inContext;
  return { project, dockerfile, imported };
}
