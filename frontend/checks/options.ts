import { TbuildError } from '../../core/index.js';

/**
 * Which checks run and what a warning does, from `# check=…` or the
 * BUILDKIT_DOCKERFILE_CHECK build arg: `skip=Rule1,Rule2` or `skip=all`,
 * `experimental=Rule|all`, `error=true`, joined with `;` (linter.ParseLintOptions).
 */
export interface CheckOptions {
  readonly skipAll: boolean;
  readonly skip: ReadonlySet<string>;
  readonly experimentalAll: boolean;
  readonly experimental: ReadonlySet<string>;
  /** `error=true`: a build with warnings fails before it runs any step. */
  readonly error: boolean;
}

export const DEFAULT_CHECK_OPTIONS: CheckOptions = {
  skipAll: false,
  skip: new Set(),
  experimentalAll: false,
  experimental: new Set(),
  error: false,
};

/** Go's strconv.ParseBool. */
const BOOLEANS: Readonly<Record<string, boolean>> = {
  '1': true,
  t: true,
  T: true,
  TRUE: true,
  true: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  FALSE: false,
  false: false,
  False: false,
};

/** Parses a check option string; `where` names its origin for the error (the directive or the build arg). */
export function parseCheckOptions(text: string, where: string): CheckOptions {
  const trimmed = text.trim();
  if (trimmed === '') return DEFAULT_CHECK_OPTIONS;
  let skipAll = false;
  let skip: string[] = [];
  let experimentalAll = false;
  let experimental: string[] = [];
  let error = false;
  // Go's strings.SplitN(s, ";", 3): a third `;` stays inside the last part.
  const parts = splitN(trimmed, ';', 3);
  for (const part of parts) {
    const equals = part.indexOf('=');
    if (equals < 0) throw invalid(where, `invalid check option "${part}"`);
    const key = part.slice(0, equals).trim();
    const value = part.slice(equals + 1).trim();
    switch (key) {
      case 'skip':
        if (value === 'all') skipAll = true;
        else skip = value.split(',').map((name) => name.trim());
        break;
      case 'experimental':
        if (value === 'all') experimentalAll = true;
        else experimental = value.split(',').map((name) => name.trim());
        break;
      case 'error': {
        const parsed = BOOLEANS[value];
        if (parsed === undefined)
          throw invalid(
            where,
            `failed to parse check option "${part}": strconv.ParseBool: parsing "${value}": invalid syntax`,
          );
        error = parsed;
        break;
      }
      default:
        throw invalid(where, `invalid check option "${key}"`);
    }
  }
  return {
    skipAll,
    skip: new Set(skip),
    experimentalAll,
    experimental: new Set(experimental),
    error,
  };
}

function splitN(text: string, separator: string, count: number): string[] {
  const pieces = text.split(separator);
  if (pieces.length <= count) return pieces;
  return [...pieces.slice(0, count - 1), pieces.slice(count - 1).join(separator)];
}

function invalid(where: string, message: string): TbuildError {
  return new TbuildError('TB_DOCKERFILE_CHECK_OPTIONS', `failed to parse ${where}: ${message}`, {
    hint: 'write check options as skip=Rule1,Rule2 (or skip=all);error=true',
  });
}
