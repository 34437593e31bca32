import { describe, expect, it } from 'vitest';
import { href, parseRoute, type Route } from './router.ts';

describe('hash routes', () => {
  it('reads every view and writes it back', () => {
    const routes: Route[] = [
      { view: 'overview' },
      { view: 'mesh', layer: null },
      { view: 'mesh', layer: 'L2' },
      { view: 'incidents' },
      { view: 'incident', id: 'inc-20250825-035809-tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq-1' },
      { view: 'incident', id: 'a/b c' },
    ];
    for (const r of routes) expect(parseRoute(href(r))).toEqual(r);
  });

  it('treats an empty hash as the overview, an unknown layer as all layers, anything else as not found', () => {
    expect(parseRoute('')).toEqual({ view: 'overview' });
    expect(parseRoute('#/mesh?layer=L5')).toEqual({ view: 'mesh', layer: null });
    expect(parseRoute('#/nodes')).toEqual({ view: 'not-found', path: '/nodes' });
    expect(parseRoute('#/incidents/%E0%A4%A')).toEqual({
      view: 'not-found',
      path: '/incidents/%E0%A4%A',
    });
  });
});
