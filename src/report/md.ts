/**
 * Small Markdown writers shared by both languages. Values that came from
 * the outside (event messages, kernel lines, command output) are put in code
 * spans or escaped, so they cannot break the report's structure.
 */

/** One line: newlines and carriage returns become spaces. */
export function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').trim();
}

/** An inline code span that survives backticks inside the text. */
export function code(text: string): string {
  const t = oneLine(text);
  if (t === '') return '``';
  const runs = t.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = t.startsWith('`') || t.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${t}${pad}${fence}`;
}

/** Plain text with Markdown's inline markers escaped. */
export function plain(text: string): string {
  return oneLine(text).replace(/([\\`*_[\]<>|#])/g, '\\$1');
}

export function bullets(lines: readonly string[], indent = ''): string {
  return lines.map((l) => `${indent}- ${l}`).join('\n');
}

export function numbered(lines: readonly string[]): string {
  return lines.map((l, i) => `${i + 1}. ${l}`).join('\n');
}

/** A pipe table; cells are escaped for `|` and kept on one line. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (c: string) => oneLine(c).replace(/\|/g, '\\|');
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A fenced block for raw log lines; the fence is longer than any backtick run inside. */
export function block(lines: readonly string[]): string {
  const runs = lines.join('\n').match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(2, ...runs.map((r) => r.length)) + 1);
  return [`${fence}text`, ...lines, fence].join('\n');
}

/** Paragraphs separated by blank lines, empty ones dropped. */
export function paragraphs(parts: readonly (string | null | undefined | false)[]): string {
  return parts.filter((p): p is string => typeof p === 'string' && p !== '').join('\n\n');
}
