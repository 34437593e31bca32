import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * docs/configuration.md, generated from the chart's values.schema.json: one
 * table per top-level section, one row per value (dotted key, type, default,
 * description). `npm run docs:values` rewrites the file;
 * test/unit/values-doc.test.ts fails when it is out of date, so the schema
 * stays the one place a value is described.
 */
export interface SchemaNode {
  readonly type?: string | readonly string[];
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly pattern?: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly items?: SchemaNode;
}

export const SCHEMA_PATH = fileURLToPath(
  new URL('../../deploy/helm/nodewarden/values.schema.json', import.meta.url),
);
export const DOC_PATH = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function typeOf(node: SchemaNode): string {
  const t = typeof node.type === 'string' ? node.type : (node.type ?? ['any']).join(' or ');
  if (node.enum) return `${t}: ${node.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  const range = [
    node.minimum === undefined ? '' : `≥ ${node.minimum}`,
    node.maximum === undefined ? '' : `≤ ${node.maximum}`,
  ]
    .filter(Boolean)
    .join(', ');
  return range ? `${t} (${range})` : t;
}

function defaultOf(node: SchemaNode): string {
  if (!('default' in node)) return '';
  return `\`${JSON.stringify(node.default)}\``;
}

/** Leaves of the schema: objects with properties are walked, everything else is a row. */
function rows(key: string, node: SchemaNode): string[] {
  if (node.properties) {
    return Object.entries(node.properties).flatMap(([k, child]) => rows(`${key}.${k}`, child));
  }
  return [
    `| \`${key}\` | ${cell(typeOf(node))} | ${cell(defaultOf(node))} | ${cell(node.description ?? '')} |`,
  ];
}

export function renderValuesDoc(schema: SchemaNode): string {
  const out = [
    '# Configuration reference',
    '',
    '<!-- Generated from deploy/helm/nodewarden/values.schema.json by `npm run docs:values`; do not edit by hand. -->',
    '',
    'Every value of the Helm chart `deploy/helm/nodewarden`. Set them with',
    '`--set key=value` or a values file (`-f my-values.yaml`); helm checks them',
    'against the schema and refuses unknown keys and values out of range, naming',
    'the key. Installing, upgrading and uninstalling: [install.md](install.md).',
    '',
  ];
  for (const [section, node] of Object.entries(schema.properties ?? {})) {
    if (section === 'global') continue;
    out.push(`## \`${section}\``, '');
    if (node.description) out.push(node.description, '');
    out.push('| key | type | default | description |', '|---|---|---|---|');
    out.push(...rows(section, node), '');
  }
  return out.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as SchemaNode;
  writeFileSync(DOC_PATH, renderValuesDoc(schema));
  process.stdout.write(`wrote ${DOC_PATH}\n`);
}
