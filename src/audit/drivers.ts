/**
 * Where the driver audit's inputs come from: the agents' inventories in the
 * controller's store (last words of kind `inventory`, the newest per node)
 * and the known-bad list (data/known-bad-drivers.json, or a file of one's own).
 */
import { readFile } from 'node:fs/promises';
import { badInput, describeError } from '../core/errors.ts';
import {
  inventoryFromLastWords,
  parseKnownBadList,
  type KnownBadEntry,
  type NodeInventory,
} from '../core/driver-audit.ts';
import type { IncidentStore } from '../store/port.ts';

/** The list shipped with NodeWarden; resolves from src/audit and from dist/audit alike. */
export const DEFAULT_KNOWN_BAD = new URL('../../data/known-bad-drivers.json', import.meta.url);

export async function readKnownBadList(
  path: string | URL = DEFAULT_KNOWN_BAD,
): Promise<KnownBadEntry[]> {
  const name = path instanceof URL ? path.pathname : path;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw badInput(
      `cannot read the known-bad list ${name}: ${describeError(error)}`,
      'pass --known-bad <file> with a readable JSON file (format: data/known-bad-drivers.json)',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw badInput(
      `${name} is not JSON: ${describeError(error)}`,
      'fix the file, or pass another with --known-bad',
    );
  }
  return parseKnownBadList(json, name);
}

/** Every node's newest inventory the controller stored. */
export async function readInventories(store: IncidentStore): Promise<NodeInventory[]> {
  const blobs = await store.latestLastWords('inventory');
  return blobs.map((b) => inventoryFromLastWords(b.node, b.at, b.data));
}
