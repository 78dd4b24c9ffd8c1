import type { LogFields, Logger } from '../../../core/index.js';

/** A logger that keeps every line (message and fields as JSON), to check nothing secret is logged. */
export function captureLogger(lines: string[] = []): Logger & { readonly lines: string[] } {
  const record =
    (level: string) =>
    (message: string, fields?: LogFields): void => {
      lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
    };
  return {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    child: () => captureLogger(lines),
  };
}

/** Everything an error shows: message, hint, details and causes. */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const e = current as { message?: unknown; hint?: unknown; details?: unknown; cause?: unknown };
    parts.push(String(e.message), String(e.hint), JSON.stringify(e.details ?? {}));
    current = e.cause;
  }
  return parts.join('\n');
}
