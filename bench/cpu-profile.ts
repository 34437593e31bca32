// Reads a V8 .cpuprofile (node --cpu-prof) and names where the time went:
// self time per function and per source file, largest first. Used by
// bench/controller-scale --profile; also runnable on its own:
//   npx tsx bench/cpu-profile.ts <file.cpuprofile> [--top 25]
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly wallMs: number;
  /** Sampled time outside `(idle)` (V8's own work shows as `(program)` and `(garbage collector)`). */
  readonly busyMs: number;
  readonly functions: readonly SelfTime[];
  readonly files: readonly SelfTime[];
}

/** Shortens a script URL to its package-relative path (`dist/core/x.js`, `node:internal/…`). */
function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = path.lastIndexOf('/node_modules/');
  if (modules >= 0) return path.slice(modules + 1);
  const dist = path.lastIndexOf('/dist/');
  return dist >= 0 ? path.slice(dist + 1) : path;
}

function ranked(totals: Map<string, number>, busyMs: number, top: number): SelfTime[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
}

export function summarizeCpuProfile(profile: CpuProfile, top = 20): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let busyMs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const ms = us / 1000;
    const fn = frame.functionName || '(anonymous)';
    if (fn === '(idle)') continue;
    busyMs += ms;
    const file = shortUrl(frame.url);
    const key = frame.url === '' ? fn : `${fn} ${file}:${frame.lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + ms);
    files.set(frame.url === '' ? fn : file, (files.get(frame.url === '' ? fn : file) ?? 0) + ms);
  }
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs,
    functions: ranked(functions, busyMs, top),
    files: ranked(files, busyMs, top),
  };
}

export async function readCpuProfile(path: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
}

export function formatProfileSummary(s: ProfileSummary): string {
  const row = (t: SelfTime): string =>
    `  ${t.ms.toFixed(0).padStart(8)} ms ${(100 * t.share).toFixed(1).padStart(5)} %  ${t.name}`;
  return [
    `CPU profile: ${(s.wallMs / 1000).toFixed(1)} s wall, ${(s.busyMs / 1000).toFixed(1)} s sampled busy`,
    'self time by function:',
    ...s.functions.map(row),
    'self time by file:',
    ...s.files.map(row),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  const i = process.argv.indexOf('--top');
  const top = i > 0 ? Number(process.argv[i + 1]) : 25;
  if (file === undefined || file.startsWith('--') || !Number.isInteger(top) || top < 1) {
    console.error('usage: npx tsx bench/cpu-profile.ts <file.cpuprofile> [--top 25]');
    process.exit(2);
  }
  console.log(formatProfileSummary(summarizeCpuProfile(await readCpuProfile(file), top)));
}
