/**
 * The last line of defence for secrets: every log line the OpenStack adapter
 * writes passes through here, and every secret it holds (password,
 * application-credential secret, every token Keystone issued it) is replaced
 * wherever it appears, in the message or in any field, however nested. The
 * adapter does not put secrets in logs in the first place; this catches the
 * day a message quotes a request it should not.
 */
import type { LogFields, Logger } from '../../core/logger.ts';

export const REDACTED = '[redacted]';

/** Secrets shorter than this are not searched for: they would blank out ordinary words. */
const MIN_SECRET_LENGTH = 3;

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= MIN_SECRET_LENGTH) out = out.split(secret).join(REDACTED);
  }
  return out;
}

function redactValue(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return redact(value, secrets);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return redact(value.message, secrets);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, secrets, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, redactValue(v, secrets, depth + 1)]),
  );
}

/** A logger that redacts `secrets()` (read at every line, so new tokens are covered) before `inner` sees anything. */
export function redactingLogger(inner: Logger, secrets: () => readonly string[]): Logger {
  return {
    log(level, msg, fields) {
      const s = secrets();
      inner.log(
        level,
        redact(msg, s),
        fields === undefined ? undefined : (redactValue(fields, s, 0) as LogFields),
      );
    },
    child(fields) {
      return redactingLogger(inner.child(redactValue(fields, secrets(), 0) as LogFields), secrets);
    },
  };
}
