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
  /** `# check=` comments just above an instruction, by its first line: they add to the options. */
  readonly #scoped = new Map<number, CheckOptions>();

  constructor(options: CheckOptions) {
    this.options = options;
  }

  /** What a `# check=…` comment above the instruction starting on `line` adds for it. */
  scope(line: number, options: CheckOptions): void {
    this.#scoped.set(line, options);
  }

  enabled(rule: { readonly name: string; readonly experimental: boolean }, line?: number): boolean {
    const extra = line === undefined ? undefined : this.#scoped.get(line);
    const options = this.options;
    if (rule.experimental)
      return (
        options.experimentalAll ||
        options.experimental.has(rule.name) ||
        extra?.experimentalAll === true ||
        extra?.experimental.has(rule.name) === true
      );
    if (options.skipAll || options.skip.has(rule.name)) return false;
    return extra === undefined || (!extra.skipAll && !extra.skip.has(rule.name));
  }

  /** Reports a warning about one instruction: its own `# check=` comment applies too. */
  run<Args extends readonly string[]>(
    rule: CheckRule<Args>,
    range: SourceRange | undefined,
    ...args: Args
  ): void {
    this.#report(rule, range, range?.startLine, args);
  }

  /**
   * Reports a warning BuildKit checks across the file (stage names, casing, empty
   * continuations, ARG defaults in FROM): only the directive's options apply.
   */
  runFileWide<Args extends readonly string[]>(
    rule: CheckRule<Args>,
    range: SourceRange | undefined,
    ...args: Args
  ): void {
    this.#report(rule, range, undefined, args);
  }

  #report<Args extends readonly string[]>(
    rule: CheckRule<Args>,
    range: SourceRange | undefined,
    scopeLine: number | undefined,
    args: Args,
  ): void {
    if (!this.enabled(rule, scopeLine)) return;
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
