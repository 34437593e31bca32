import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  DOC_PATH,
  renderValuesDoc,
  SCHEMA_PATH,
  type SchemaNode,
} from '../../src/chart/values-doc.ts';
import { chartDir } from '../support/helm.ts';

/**
 * The configuration reference is generated from values.schema.json, and the
 * schema's defaults are the chart's real defaults (values.yaml), so neither
 * the doc nor the schema can drift from what `helm install` does.
 */
const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as SchemaNode;
const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<
  string,
  unknown
>;

describe('docs/configuration.md', () => {
  it('is the rendering of values.schema.json (run npm run docs:values after editing the schema)', () => {
    expect(readFileSync(DOC_PATH, 'utf8')).toBe(renderValuesDoc(schema));
  });

  it('has one row per value, with its default', () => {
    const doc = renderValuesDoc(schema);
    expect(doc).toContain('| `controller.replicas` | integer or null (≥ 1, ≤ 5) | `null` |');
    expect(doc).toContain('| `store.type` | string: `sqlite`, `postgres` | `"sqlite"` |');
  });
});

describe('values.schema.json', () => {
  /** Every key of values.yaml: its schema node exists, is described, and its default is the value. */
  function walk(path: string, value: unknown, node: SchemaNode | undefined): void {
    expect(node, `${path} is in values.yaml but not in values.schema.json`).toBeDefined();
    if (node === undefined) return;
    expect(node.description, `${path} has no description in the schema`).toBeTruthy();
    // A node with a default is compared whole (resources, tolerations); one without is walked.
    if (
      !('default' in node) &&
      node.properties &&
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value)
    ) {
      for (const [k, v] of Object.entries(value)) walk(`${path}.${k}`, v, node.properties[k]);
      for (const k of Object.keys(node.properties))
        expect(
          Object.keys(value),
          `${path}.${k} is in the schema but not in values.yaml`,
        ).toContain(k);
      return;
    }
    expect(node.default, `${path}: the schema's default differs from values.yaml`).toEqual(value);
  }

  it("describes every value of values.yaml with values.yaml's default", () => {
    for (const [k, v] of Object.entries(values)) walk(k, v, schema.properties?.[k]);
  });
});
