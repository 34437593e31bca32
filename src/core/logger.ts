/** Structured logging port; adapters write JSON lines or discard. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** A logger that drops everything; for tests and quiet commands. */
export const silentLogger: Logger = {
  log: () => undefined,
  child: () => silentLogger,
};
