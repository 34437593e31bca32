import { h, type Attrs, type Child } from './dom.ts';

/**
 * A scrollable table with column headers; `rowHeader` makes each row's first
 * cell its header (`<th scope="row">`), as screen readers expect.
 */
export function dataTable(
  head: readonly Child[],
  rows: readonly (readonly Child[])[],
  options: {
    readonly caption?: Child;
    readonly captionHidden?: boolean;
    readonly class?: string;
    readonly rowHeader?: boolean;
    readonly rowAttrs?: (index: number) => Attrs;
  } = {},
): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: options.class },
      options.caption === undefined
        ? null
        : h(
            'caption',
            { class: options.captionHidden === true ? 'sr-only' : null },
            options.caption,
          ),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          head.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        null,
        rows.map((cells, i) =>
          h(
            'tr',
            options.rowAttrs?.(i) ?? null,
            cells.map((c, k) =>
              // A cell built by the caller (for its own attributes) goes in as it is.
              c instanceof HTMLTableCellElement
                ? c
                : k === 0 && options.rowHeader === true
                  ? h('th', { scope: 'row' }, c)
                  : h('td', null, c),
            ),
          ),
        ),
      ),
    ),
  );
}
