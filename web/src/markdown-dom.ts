import { h, type Child } from './dom.ts';
import type { Block, Inline } from './markdown.ts';
import { dataTable } from './table.ts';

function inline(content: readonly Inline[]): Child[] {
  return content.map((c) => {
    switch (c.kind) {
      case 'text':
        return c.text;
      case 'code':
        return h('code', null, c.text);
      case 'strong':
        return h('strong', null, inline(c.children));
    }
  });
}

/**
 * Report blocks as DOM. `headingBase` shifts heading levels so a report's
 * `#`/`###` sit under the page's own headings.
 */
export function renderBlocks(blocks: readonly Block[], headingBase = 2): Node[] {
  return blocks.map((b) => {
    switch (b.kind) {
      case 'heading': {
        const level = Math.min(6, b.level === 1 ? headingBase : headingBase + 1);
        return h(`h${level}` as 'h3', null, inline(b.content));
      }
      case 'paragraph':
        return h('p', null, inline(b.content));
      case 'list':
        return h(
          b.ordered ? 'ol' : 'ul',
          null,
          b.items.map((item) =>
            h('li', null, inline(item.content), renderBlocks(item.children, headingBase)),
          ),
        );
      case 'table':
        return dataTable(
          b.head.map(inline),
          b.rows.map((r) => r.map(inline)),
        );
      case 'code':
        return h('pre', null, h('code', null, b.text));
    }
  });
}
