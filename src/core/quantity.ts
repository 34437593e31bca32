import { badInput } from './errors.ts';

/**
 * Kubernetes resource quantities ("500m", "16", "64Gi", "1.5G", "2e3") as
 * numbers in base units: cores for CPU, bytes for memory, counts for
 * extended resources such as nvidia.com/mig-1g.10gb.
 */
const suffixes: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

export function parseQuantity(text: string): number {
  const match =
    /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(
      text.trim(),
    );
  const scale = suffixes[match?.[2] ?? ''];
  if (!match?.[1] || scale === undefined) {
    throw badInput(
      `"${text}" is not a Kubernetes quantity`,
      'use forms like 500m, 2, 64Gi or 1.5G',
    );
  }
  return Number(match[1]) * scale;
}

/** CPU in millicores, rounded as Kubernetes rounds (up to whole millicores). */
export function milliCpu(text: string): number {
  return Math.ceil(Math.round(parseQuantity(text) * 1e6) / 1e3);
}
