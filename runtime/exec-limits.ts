import { TbuildError } from '../core/index.js';

/** errno of execve when the arguments and environment are too long. */
export const E2BIG = 7;
/** Linux's MAX_ARG_STRLEN: one argument or variable, its NUL included (32 pages). */
export const MAX_ARG_STRLEN = 131072;

/**
 * The error for a command the kernel refused to start with E2BIG, saying which
 * of execve's two limits was met. The helper only reports the errno; the sizes
 * are measured here, where the strings are. The step itself is named by the
 * caller's plumbing (the solver adds the vertex, the CLI its Dockerfile line).
 */
export function argumentsTooLong(args: readonly string[], env: readonly string[]): TbuildError {
  const size = (text: string): number => Buffer.byteLength(text) + 1;
  const longArg = args.findIndex((arg) => size(arg) > MAX_ARG_STRLEN);
  const longVar = env.find((entry) => size(entry) > MAX_ARG_STRLEN);
  const total = [...args, ...env].reduce((sum, text) => sum + size(text) + 8, 0);
  const details = { args: args.length, variables: env.length, bytes: total };
  if (longArg !== -1 || longVar !== undefined) {
    const what =
      longArg !== -1
        ? `argument ${String(longArg + 1)} of the command`
        : `environment variable ${longVar?.split('=')[0] ?? ''}`;
    const bytes = longArg !== -1 ? size(args[longArg] ?? '') : size(longVar ?? '');
    const which =
      longArg !== -1 ? { argument: longArg + 1 } : { variable: longVar?.split('=')[0] ?? '' };
    return new TbuildError(
      'TB_RUNTIME_ARGS_TOO_LONG',
      `the kernel refused to start the command: ${what} is ${String(bytes)} bytes, and execve takes at most ${String(MAX_ARG_STRLEN)} per string (MAX_ARG_STRLEN, E2BIG)`,
      {
        hint: 'pass large data in a file (COPY it, or RUN --mount it) rather than on the command line or in ENV',
        details: { ...details, limit: 'MAX_ARG_STRLEN', ...which },
      },
    );
  }
  return new TbuildError(
    'TB_RUNTIME_ARGS_TOO_LONG',
    `the kernel refused to start the command: its ${String(args.length)} arguments and ${String(env.length)} environment variables take ${String(total)} bytes, more than execve allows (ARG_MAX: a quarter of the stack size limit, E2BIG)`,
    {
      hint: 'pass large data in a file (COPY it, or RUN --mount it), or split the command; raising `ulimit -s` for tbuild raises the limit',
      details: { ...details, limit: 'ARG_MAX' },
    },
  );
}
