/**
 * The subset of Markdown the incident report is written in (src/report/md.ts
 * writes it): ATX headings, paragraphs, `-` lists (nested by 4 spaces),
 * numbered lists, pipe tables, fenced blocks, `**bold**`, code spans and
 * backslash escapes. Parsed into a small tree here (pure, tested on the
 * report fixtures) and turned into DOM nodes by markdown-dom.ts, as text
 * nodes only: a kernel log line can never become markup.
 */
export type Inline =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'code'; readonly text: string }
  | { readonly kind: 'strong'; readonly children: readonly Inline[] };

export interface ListItem {
  readonly content: readonly Inline[];
  readonly children: readonly Block[];
}

export type Block =
  | { readonly kind: 'heading'; readonly level: number; readonly content: readonly Inline[] }
  | { readonly kind: 'paragraph'; readonly content: readonly Inline[] }
  | { readonly kind: 'list'; readonly ordered: boolean; readonly items: readonly ListItem[] }
  | {
      readonly kind: 'table';
      readonly head: readonly (readonly Inline[])[];
      readonly rows: readonly (readonly (readonly Inline[])[])[];
    }
  | { readonly kind: 'code'; readonly text: string };

/** Inline markup: code spans (any fence length), `**strong**`, `\`-escapes. */
export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let plain = '';
  const flush = (): void => {
    if (plain !== '') out.push({ kind: 'text', text: plain });
    plain = '';
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length && /[\\`*_[\]<>|#!-]/.test(text[i + 1]!)) {
      plain += text[i + 1];
      i += 2;
    } else if (c === '`') {
      let n = 0;
      while (text[i + n] === '`') n += 1;
      const fence = '`'.repeat(n);
      const end = text.indexOf(fence, i + n);
      if (end === -1 || text[end + n] === '`') {
        plain += fence;
        i += n;
        continue;
      }
      flush();
      let inner = text.slice(i + n, end);
      if (inner.length > 1 && inner.startsWith(' ') && inner.endsWith(' '))
        inner = inner.slice(1, -1);
      out.push({ kind: 'code', text: inner });
      i = end + n;
    } else if (c === '*' && text[i + 1] === '*') {
      const end = findClosingStrong(text, i + 2);
      if (end === -1) {
        plain += '**';
        i += 2;
        continue;
      }
      flush();
      out.push({ kind: 'strong', children: parseInline(text.slice(i + 2, end)) });
      i = end + 2;
    } else {
      plain += c;
      i += 1;
    }
  }
  flush();
  return out;
}

/** The `**` closing one opened before `from`, skipping code spans and escapes. */
function findClosingStrong(text: string, from: number): number {
  for (let i = from; i < text.length; i += 1) {
    const c = text[i];
    if (c === '\\') i += 1;
    else if (c === '`') {
      let n = 0;
      while (text[i + n] === '`') n += 1;
      const end = text.indexOf('`'.repeat(n), i + n);
      if (end === -1) return -1;
      i = end + n - 1;
    } else if (c === '*' && text[i + 1] === '*') return i;
  }
  return -1;
}

/** Splits `| a | b\|c |` into cells, keeping escaped pipes inside a cell. */
export function tableCells(line: string): string[] {
  const body = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  const cells: string[] = [];
  let cell = '';
  for (let i = 0; i < body.length; i += 1) {
    if (body[i] === '\\' && body[i + 1] === '|') {
      cell += '\\|';
      i += 1;
    } else if (body[i] === '|') {
      cells.push(cell.trim());
      cell = '';
    } else cell += body[i];
  }
  cells.push(cell.trim());
  return cells;
}

const LIST = /^( *)(-|\d+\.) (.*)$/;
const FENCE = /^(`{3,})/;

export function parseMarkdown(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i += 1;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence !== null) {
      const close = fence[1]!;
      const body: string[] = [];
      i += 1;
      while (i < lines.length && !lines[i]!.startsWith(close)) body.push(lines[i++]!);
      i += 1;
      blocks.push({ kind: 'code', text: body.join('\n') });
      continue;
    }
    const heading = /^(#{1,6}) (.*)$/.exec(line);
    if (heading !== null) {
      blocks.push({
        kind: 'heading',
        level: heading[1]!.length,
        content: parseInline(heading[2]!),
      });
      i += 1;
      continue;
    }
    if (line.startsWith('|') && /^\|?\s*:?-{3,}/.test(lines[i + 1] ?? '')) {
      const head = tableCells(line).map(parseInline);
      const rows: Inline[][][] = [];
      i += 2;
      while (i < lines.length && lines[i]!.startsWith('|'))
        rows.push(tableCells(lines[i++]!).map(parseInline));
      blocks.push({ kind: 'table', head, rows });
      continue;
    }
    if (LIST.test(line)) {
      const start = i;
      while (i < lines.length && (LIST.test(lines[i]!) || /^ {2,}\S/.test(lines[i]!))) i += 1;
      blocks.push(parseList(lines.slice(start, i), 0));
      continue;
    }
    const para: string[] = [];
    while (
      i < lines.length &&
      lines[i]!.trim() !== '' &&
      !LIST.test(lines[i]!) &&
      !/^#{1,6} /.test(lines[i]!) &&
      !lines[i]!.startsWith('|') &&
      !FENCE.test(lines[i]!)
    )
      para.push(lines[i++]!.trim());
    blocks.push({ kind: 'paragraph', content: parseInline(para.join(' ')) });
  }
  return blocks;
}

/** A list whose items sit at `indent` spaces; deeper lines belong to the item above. */
function parseList(lines: readonly string[], indent: number): Block {
  const first = LIST.exec(lines[0] ?? '');
  const ordered = first !== null && first[2] !== '-';
  const items: { text: string; nested: string[] }[] = [];
  for (const line of lines) {
    const m = LIST.exec(line);
    if (m !== null && m[1]!.length <= indent) items.push({ text: m[3]!, nested: [] });
    else if (items.length > 0) items[items.length - 1]!.nested.push(line);
  }
  return {
    kind: 'list',
    ordered,
    items: items.map((item) => {
      const nestedIndent = Math.min(...item.nested.map((l) => l.length - l.trimStart().length));
      return {
        content: parseInline(item.text),
        children: item.nested.length === 0 ? [] : [parseList(item.nested, nestedIndent)],
      };
    }),
  };
}

/** The blocks of one `###` section (heading text match), without its heading. */
export function section(blocks: readonly Block[], title: string): Block[] {
  const start = blocks.findIndex(
    (b) => b.kind === 'heading' && inlineText(b.content).trim() === title,
  );
  if (start === -1) return [];
  const level = (blocks[start] as { level: number }).level;
  const out: Block[] = [];
  for (const b of blocks.slice(start + 1)) {
    if (b.kind === 'heading' && b.level <= level) break;
    out.push(b);
  }
  return out;
}

export function inlineText(content: readonly Inline[]): string {
  return content.map((c) => (c.kind === 'strong' ? inlineText(c.children) : c.text)).join('');
}
