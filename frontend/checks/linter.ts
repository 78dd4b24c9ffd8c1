import { TbuildError } from '../../core/index.js';
import type { SourceRange } from '../dockerfile/index.js';
import type { CheckOptions } from './options.js';
import type { CheckRule } from './rules.js';

/** One build-check warning, with what BuildKit's lint results carry for it. */
export interface CheckWarning {
  readonly rule: string;
  readonly description: string;
  readonly url: string;
  /** The rule's message for this case (BuildKit's `detail`). */
  readonly message: string;
  /** The instruction's lines; absent for a warning about the whole file. */
  readonly range?: SourceRange;
}

/**
 * Collects warnings of the rules the options leave on, in the order they are
 * found (BuildKit's linter.Linter). Experimental rules run only when asked for;
 * `skip` never turns one on.
 */
export class Linter {
  readonly options: CheckOptions;
  readonly warnings: CheckWarning[] = [];

  constructor(options: CheckOptions) {
    this.options = options;
  }

  enabled(rule: { readonly name: string; readonly experimental: boolean }): boolean {
    if (rule.experimental)
      return this.options.experimentalAll || this.options.experimental.has(rule.name);
    return !this.options.skipAll && !this.options.skip.has(rule.name);
  }

  run<Args extends readonly string[]>(
    rule: CheckRule<Args>,
    range: SourceRange | undefined,
    ...args: Args
  ): void {
    if (!this.enabled(rule)) return;
    this.warnings.push({
      rule: rule.name,
      description: rule.description,
      url: rule.url,
      message: rule.format(...args),
      ...(range === undefined
        ? {}
        : { range: { startLine: range.startLine, endLine: range.endLine } }),
    });
  }

  /** With `error=true`, the failure a build with warnings ends in (before any step runs). */
  error(file: string): TbuildError | undefined {
    if (!this.options.error || this.warnings.length === 0) return undefined;
    const rules = [...new Set(this.warnings.map((warning) => warning.rule))];
    return new TbuildError(
      'TB_DOCKERFILE_CHECK',
      `${file}: lint violation found for rules: ${rules.join(', ')}`,
      {
        hint: 'fix the warnings above, or skip their rules with # check=skip=Rule1,Rule2',
        details: { rules },
      },
    );
  }
}

/** `Rule: message (line N)`, BuildKit's LintFormatShort: how a build lists a warning. */
export function formatWarningShort(warning: CheckWarning): string {
  const line = warning.range?.startLine ?? 0;
  return `${warning.rule}: ${warning.message}${line > 0 ? ` (line ${String(line)})` : ''}`;
}
