/**
 * A tiny element builder: the dashboard is a handful of views re-rendered
 * from data, so a framework would add more bytes than it saves. Children
 * that are strings become text nodes (never HTML), so nothing from the API
 * can inject markup.
 */
export type Child = Node | string | number | null | undefined | false | readonly Child[];

type AttrValue = string | number | boolean | null | undefined;
type Handlers = Readonly<Record<string, (event: Event) => void>>;

/** Attributes by name (`true`: present, `false`/null/undefined: absent) and `on` event handlers. */
export interface Attrs {
  readonly [name: string]: AttrValue | Handlers;
  readonly on?: Handlers;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(parent: Element, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child as readonly Child[]);
    else if (child instanceof Node) parent.append(child);
    else if (typeof child === 'string') parent.append(child);
    else if (typeof child === 'number') parent.append(String(child));
  }
}

function apply(el: Element, attrs: Attrs | null): void {
  if (attrs === null) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'on') {
      for (const [type, fn] of Object.entries(value as Handlers)) el.addEventListener(type, fn);
    } else if (value === true) el.setAttribute(name, '');
    else if (typeof value === 'string') el.setAttribute(name, value);
    else if (typeof value === 'number') el.setAttribute(name, String(value));
  }
}

/** An HTML element: `h('a', { href: '#/' }, 'Overview')`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element, for the charts. */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}
