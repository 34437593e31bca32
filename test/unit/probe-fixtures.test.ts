import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { probeFixture } from '../fixtures/probe/fixture.ts';

const dir = new URL('../fixtures/probe/', import.meta.url);
const captured = readdirSync(dir).filter((f) => f.endsWith('.txt') || f.endsWith('.json'));

describe('probe fixtures', () => {
  it('every captured file is explained in the README, and every file the README names exists', () => {
    const readme = probeFixture('README.md');
    const named = [...readme.matchAll(/^\| `([^`]+\.(?:txt|json))` \|/gm)].map((m) => m[1]);
    expect(captured.length).toBeGreaterThanOrEqual(26);
    expect([...named].sort()).toEqual([...captured].sort());
  });

  it('are produced by capture.sh, which names each of them', () => {
    const script = probeFixture('capture.sh');
    for (const file of captured) expect(script).toContain(file);
  });
});
