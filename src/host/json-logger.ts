import type { LogFields, Logger, LogLevel } from '../core/logger.ts';

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Writes one JSON object per line: `{"ts","level","msg",…fields}`. */
export function jsonLogger(
  write: (line: string) => void = (line) => process.stderr.write(line),
  minLevel: LogLevel = 'info',
  base: LogFields = {},
): Logger {
  return {
    log(level, msg, fields = {}) {
      if (rank[level] < rank[minLevel]) return;
      write(
        JSON.stringify({ ts: new Date().toISOString(), level, msg, ...base, ...fields }) + '\n',
      );
    },
    child(fields) {
      return jsonLogger(write, minLevel, { ...base, ...fields });
    },
  };
}
