/**
 * The operator's channel: structured log lines for whoever runs tbuild.
 * Library modules take a Logger in their options and default to {@link noopLogger};
 * only cli/ and daemon/ decide where lines go.
 */
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `bindings` to every line (e.g. a build id or vertex digest). */
  child(bindings: LogFields): Logger;
}

export const noopLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => noopLogger,
};
