import type { ProgressEvent, ProgressSink } from '../core/index.js';
import {
  checkOptionsFor,
  formatWarningShort,
  Linter,
  syntaxWarning,
  type CheckWarning,
  type ParsedDockerfile,
} from '../frontend/index.js';

/**
 * A build's Dockerfile checks around its lowering: the `# syntax=` warning, then
 * the lowering with a linter, then every check warning as a progress event (also
 * when the lowering failed, as buildx still lists them), and with `error=true`
 * the build fails here, before any step runs.
 */
export async function lowerWithChecks<T>(
  parsed: ParsedDockerfile,
  options: { readonly buildArgs: ReadonlyMap<string, string>; readonly progress: ProgressSink },
  lower: (linter: Linter) => Promise<T>,
): Promise<T> {
  const syntax = syntaxWarning(parsed.directives);
  if (syntax !== undefined) options.progress({ type: 'warning', at: Date.now(), message: syntax });
  const linter = new Linter(checkOptionsFor(parsed.directives, options.buildArgs));
  let result: T;
  try {
    result = await lower(linter);
  } finally {
    for (const warning of linter.warnings)
      options.progress(checkWarningEvent(warning, parsed.file));
  }
  const failure = linter.error(parsed.file);
  if (failure !== undefined) throw failure;
  return result;
}

export function checkWarningEvent(warning: CheckWarning, file: string): ProgressEvent {
  return {
    type: 'warning',
    at: Date.now(),
    message: formatWarningShort(warning),
    check: {
      rule: warning.rule,
      description: warning.description,
      url: warning.url,
      file,
      ...(warning.range === undefined
        ? {}
        : { startLine: warning.range.startLine, endLine: warning.range.endLine }),
    },
  };
}
