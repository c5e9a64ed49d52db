// logger.ts: the logging seam of the core; a pino logger fits it as is.

/** LogFn logs a message with structured fields, as pino's methods do. */
export type LogFn = (fields: Record<string, unknown>, message: string) => void;

/** Logger is the subset of pino's interface peercache uses. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const nothing: LogFn = () => {};

/** noopLogger discards everything; the default when no logger is given. */
export const noopLogger: Logger = { debug: nothing, info: nothing, warn: nothing, error: nothing };
