import { describe, expect, it } from 'vitest';
import { OPENAPI_DOCUMENT } from './openapi.ts';
import { API_ROUTE_SPECS } from './router.ts';

interface Operation {
  readonly parameters?: readonly { readonly name: string; readonly in: string }[];
  readonly security?: readonly unknown[];
  readonly responses: Readonly<Record<string, unknown>>;
}
const doc = OPENAPI_DOCUMENT as unknown as {
  readonly openapi: string;
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>;
  readonly components: { readonly schemas: Readonly<Record<string, unknown>> };
};

const operation = (method: string, path: string): Operation | undefined =>
  doc.paths[path]?.[method.toLowerCase()];

describe('the OpenAPI document and the route table', () => {
  it('lists exactly the routes the router serves (a route missing from either fails here)', () => {
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const routed = API_ROUTE_SPECS.map((r) => `${r.method} ${r.path}`).sort();
    expect(documented).toEqual(routed);
  });

  it('documents every query parameter a route accepts, and only those', () => {
    for (const r of API_ROUTE_SPECS) {
      const query = (operation(r.method, r.path)?.parameters ?? [])
        .filter((p) => p.in === 'query')
        .map((p) => p.name)
        .sort();
      expect({ route: r.path, query }).toEqual({ route: r.path, query: [...r.query].sort() });
    }
  });

  it('documents every path parameter of a template', () => {
    for (const r of API_ROUTE_SPECS) {
      const inTemplate = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const documented = (operation(r.method, r.path)?.parameters ?? [])
        .filter((p) => p.in === 'path')
        .map((p) => p.name)
        .sort();
      expect({ route: r.path, documented }).toEqual({ route: r.path, documented: inTemplate });
    }
  });

  it('marks the routes that need no token as such, and documents 401/403 on the others', () => {
    for (const r of API_ROUTE_SPECS) {
      const op = operation(r.method, r.path);
      if (r.role === null) expect(op?.security).toEqual([]);
      else {
        expect(op?.security ?? [{ bearer: [] }]).toEqual([{ bearer: [] }]);
        expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(['401', '403']));
      }
    }
  });

  it('resolves every $ref to a schema it defines', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map(
      (m) => m[1] ?? '',
    );
    expect(refs.length).toBeGreaterThan(10);
    for (const name of new Set(refs)) expect(doc.components.schemas).toHaveProperty(name);
    expect(doc.openapi).toBe('3.1.0');
  });
});
