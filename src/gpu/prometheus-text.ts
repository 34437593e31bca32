/**
 * A reader for the Prometheus text exposition format (version 0.0.4), enough
 * for exporters' /metrics pages: `name{label="value",…} value [timestamp]`,
 * comments skipped, label escapes (`\\`, `\"`, `\n`) undone. Pure; lines it
 * cannot read are counted, not fatal, so one odd line never hides a scrape.
 */

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The value exactly as printed, for callers that must tell sentinels apart. */
  readonly raw: string;
  /** Parsed value; NaN and ±Inf as JavaScript has them. */
  readonly value: number;
  readonly timestampMs: number | null;
}

export interface PromParseResult {
  readonly samples: readonly PromSample[];
  /** 1-based numbers of lines that were neither comments nor samples. */
  readonly invalidLines: readonly number[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(text: string): number {
  switch (text) {
    case 'NaN':
      return Number.NaN;
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
    default:
      return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : Number.NaN;
  }
}

/** Reads one sample line; null when it is not one. */
function parseLine(line: string): PromSample | null {
  const nameMatch = NAME.exec(line);
  if (!nameMatch) return null;
  const name = nameMatch[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i += 1;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i += 1;
      if (line[i] === '}') {
        i += 1;
        break;
      }
      const labelMatch = LABEL_NAME.exec(line.slice(i));
      if (!labelMatch) return null;
      const label = labelMatch[0];
      i += label.length;
      while (line[i] === ' ') i += 1;
      if (line[i] !== '=' || line[i + 1] !== '"') return null;
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return null;
        if (c === '"') break;
        if (c === '\\') {
          const next = line[i + 1];
          value += next === 'n' ? '\n' : (next ?? '');
          i += 2;
        } else {
          value += c;
          i += 1;
        }
      }
      i += 1;
      labels[label] = value;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') return null;
  const raw = rest[0]!;
  const value = parseValue(raw);
  if (Number.isNaN(value) && raw !== 'NaN') return null;
  let timestampMs: number | null = null;
  if (rest.length === 2) {
    if (!/^-?\d+$/.test(rest[1]!)) return null;
    timestampMs = Number(rest[1]);
  }
  return { name, labels, raw, value, timestampMs };
}

export function parsePrometheusText(text: string): PromParseResult {
  const samples: PromSample[] = [];
  const invalidLines: number[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n += 1) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseLine(line);
    if (sample) samples.push(sample);
    else invalidLines.push(n + 1);
  }
  return { samples, invalidLines };
}

/** Escapes a label value for exposition: backslash, double quote, newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
