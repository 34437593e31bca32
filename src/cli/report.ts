import { badInput } from '../core/errors.ts';
import { loadDiagnosis, storedReportInput } from '../diagnose/stored.ts';
import { renderJson } from '../report/json.ts';
import { renderMarkdown } from '../report/markdown.ts';
import { openStore } from '../store/open.ts';
import { EXIT_OK, parseFlags, type Command } from './command.ts';
import { checkLang } from './diagnose.ts';

const help = `nodewarden report — the incident report of a stored incident

Usage:
  nodewarden report <incident-id> [--store URL] [--lang ko|en] [--format md|json]
                                  [--zone ZONE]

Renders the report of an incident from the evidence kept with it (the
controller's diagnosis at incident open, or nodewarden diagnose --store),
with what remediation recorded since: the seed report's sections, times in the
cluster's zone, MTTD and MTTR. The root cause is classified again from the
stored evidence at the time it was first decided, so the verdict is the same.

Options:
  --store URL       sqlite:<path> (default <data dir>/nodewarden.db) or postgres://…
  --lang ko|en      default en
  --format md|json  default md
  --zone ZONE       IANA zone for times (default: the zone the diagnosis used)

Exit: 0 printed, 1 no such incident or no stored diagnosis, 2 bad usage.

Example:
  nodewarden report inc-20250825-035809-tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq-1 --lang ko
`;

const FORMATS = ['md', 'json'] as const;

export const command: Command = {
  name: 'report',
  summary: 'render the incident report (en/ko Markdown or JSON) of a stored incident',
  help,
  async run(argv, io) {
    const { values, positionals } = parseFlags('report', argv, {
      store: { type: 'string' },
      lang: { type: 'string', default: 'en' },
      format: { type: 'string', default: 'md' },
      zone: { type: 'string' },
    });
    if (positionals.length !== 1) {
      throw badInput(
        positionals.length === 0
          ? 'report needs the incident id'
          : `report takes one incident id, got ${positionals.length}: ${positionals.join(' ')}`,
        'e.g. nodewarden report inc-20250825-035809-node-1 (ids are in the controller log and the API)',
      );
    }
    const lang = checkLang(values.lang);
    if (!(FORMATS as readonly string[]).includes(values.format)) {
      throw badInput(
        `--format "${values.format}" is not one of ${FORMATS.join(', ')}`,
        'pass --format md or --format json',
      );
    }
    if (values.zone !== undefined) {
      try {
        new Intl.DateTimeFormat('en-GB', { timeZone: values.zone });
      } catch {
        throw badInput(
          `--zone "${values.zone}" is not an IANA time zone`,
          'pass e.g. --zone Asia/Seoul or --zone UTC',
        );
      }
    }
    const store = await openStore(values.store);
    try {
      const stored = await loadDiagnosis(store, positionals[0] ?? '');
      const input = storedReportInput(stored, new Date().toISOString(), values.zone);
      io.out(values.format === 'json' ? renderJson(input) + '\n' : renderMarkdown(input, lang));
      return EXIT_OK;
    } finally {
      await store.close();
    }
  },
};
