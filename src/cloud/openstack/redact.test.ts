import { describe, expect, it } from 'vitest';
import type { LogFields, LogLevel, Logger } from '../../core/logger.ts';
import { redact, redactingLogger } from './redact.ts';

function recorder(): {
  logger: Logger;
  lines: { level: LogLevel; msg: string; fields?: LogFields }[];
} {
  const lines: { level: LogLevel; msg: string; fields?: LogFields }[] = [];
  const make = (base: LogFields): Logger => ({
    log: (level, msg, fields) => lines.push({ level, msg, fields: { ...base, ...fields } }),
    child: (fields) => make({ ...base, ...fields }),
  });
  return { logger: make({}), lines };
}

describe('redactingLogger', () => {
  it('replaces secrets in the message and in nested fields, errors and children, read at every line', () => {
    const secrets = ['hunter22'];
    const { logger, lines } = recorder();
    const log = redactingLogger(logger, () => secrets);
    log.log('info', 'login hunter22', {
      a: { b: ['x hunter22 y'] },
      e: new Error('bad hunter22'),
      n: 3,
    });
    secrets.push('gAAAAAtoken');
    log.child({ token: 'gAAAAAtoken' }).log('warn', 'ok');
    expect(JSON.stringify(lines)).not.toMatch(/hunter22|gAAAAAtoken/);
    expect(lines[0]).toEqual({
      level: 'info',
      msg: 'login [redacted]',
      fields: { a: { b: ['x [redacted] y'] }, e: 'bad [redacted]', n: 3 },
    });
    expect(lines[1]?.fields).toEqual({ token: '[redacted]' });
  });

  it('leaves secrets too short to search for', () => {
    expect(redact('an ab b', ['ab'])).toBe('an ab b');
    expect(redact('xabcx', ['abc'])).toBe('x[redacted]x');
  });
});
