/**
 * Hash routes, so the server only serves `/` and `/assets/…`:
 * `#/` overview, `#/mesh` (`?layer=L2`), `#/incidents`, `#/incidents/<id>`.
 */
import type { Layer } from '../../src/core/probe.ts';

export type Route =
  | { readonly view: 'overview' }
  | { readonly view: 'mesh'; readonly layer: Layer | null }
  | { readonly view: 'incidents' }
  | { readonly view: 'incident'; readonly id: string }
  | { readonly view: 'not-found'; readonly path: string };

const LAYERS: readonly string[] = ['L2', 'L3', 'L4', 'L7'];

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const [path = '/', query = ''] = raw.split('?', 2);
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.length === 0) return { view: 'overview' };
  if (parts[0] === 'mesh' && parts.length === 1) {
    const layer = new URLSearchParams(query).get('layer');
    return {
      view: 'mesh',
      layer: layer !== null && LAYERS.includes(layer) ? (layer as Layer) : null,
    };
  }
  if (parts[0] === 'incidents' && parts.length === 1) return { view: 'incidents' };
  if (parts[0] === 'incidents' && parts.length === 2) {
    try {
      return { view: 'incident', id: decodeURIComponent(parts[1]!) };
    } catch {
      return { view: 'not-found', path };
    }
  }
  return { view: 'not-found', path };
}

export function href(route: Route): string {
  switch (route.view) {
    case 'overview':
      return '#/';
    case 'mesh':
      return route.layer === null ? '#/mesh' : `#/mesh?layer=${route.layer}`;
    case 'incidents':
      return '#/incidents';
    case 'incident':
      return `#/incidents/${encodeURIComponent(route.id)}`;
    case 'not-found':
      return `#${route.path}`;
  }
}
