import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  inlineText,
  parseInline,
  parseMarkdown,
  section,
  tableCells,
  type Block,
} from './markdown.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../test/fixtures/report/${name}`, import.meta.url), 'utf8');

describe('parseInline', () => {
  it('reads code spans, strong text and escapes, and never turns text into markup', () => {
    expect(parseInline('Node `a-b` is **down: `x`** \\*not bold\\* <b>')).toEqual([
      { kind: 'text', text: 'Node ' },
      { kind: 'code', text: 'a-b' },
      { kind: 'text', text: ' is ' },
      {
        kind: 'strong',
        children: [
          { kind: 'text', text: 'down: ' },
          { kind: 'code', text: 'x' },
        ],
      },
      { kind: 'text', text: ' *not bold* <b>' },
    ]);
  });

  it('reads longer code fences around backticks, as src/report/md.ts writes them', () => {
    expect(parseInline('``a`b``')).toEqual([{ kind: 'code', text: 'a`b' }]);
    expect(parseInline('`` `x` ``')).toEqual([{ kind: 'code', text: '`x`' }]);
  });

  it('keeps an unclosed marker as text', () => {
    expect(inlineText(parseInline('a ** b ` c'))).toBe('a ** b ` c');
  });
});

describe('tableCells', () => {
  it('splits on pipes but keeps escaped ones', () => {
    expect(tableCells('| a | b\\|c |')).toEqual(['a', 'b\\|c']);
    expect(inlineText(parseInline(tableCells('| a | b\\|c |')[1]!))).toBe('b|c');
  });
});

describe('parseMarkdown on the seed report', () => {
  // Both languages keep the seed's English section headings (src/report/markdown.ts).
  for (const file of ['seed.en.md', 'seed.ko.md']) {
    it(`${file}: every section heading, the survivors' table and the nested lists`, () => {
      const blocks = parseMarkdown(fixture(file));
      const headings = blocks.filter((b) => b.kind === 'heading');
      expect(headings[0]).toMatchObject({ level: 1 });
      expect(headings.filter((b) => b.level === 3).length).toBeGreaterThanOrEqual(12);
      const tables = blocks.filter(
        (b): b is Extract<Block, { kind: 'table' }> => b.kind === 'table',
      );
      const survivors = tables.find((t) => t.rows.some((r) => inlineText(r[0]!).endsWith('wn4gb')));
      expect(survivors?.rows).toHaveLength(4);
      const nested = blocks.find(
        (b) => b.kind === 'list' && b.items.some((i) => i.children.length > 0),
      );
      expect(nested).toBeDefined();
      const analysis = section(blocks, 'Root Cause Analysis');
      expect(analysis.length).toBeGreaterThan(0);
      expect(JSON.stringify(analysis)).toContain('NODE_HALTED');
      // The next section is not part of this one.
      expect(analysis.some((b) => b.kind === 'heading' && b.level <= 3)).toBe(false);
    });
  }

  it('keeps a fenced block verbatim', () => {
    expect(parseMarkdown('````text\na ``` b\n**x**\n````\nafter')).toEqual([
      { kind: 'code', text: 'a ``` b\n**x**' },
      { kind: 'paragraph', content: [{ kind: 'text', text: 'after' }] },
    ]);
  });

  it('an absent section is empty', () => {
    expect(section(parseMarkdown('### A\n\ntext'), 'B')).toEqual([]);
  });
});
