/**
 * Kubernetes resource quantities ("16", "500m", "64Gi", "1e3") as numbers in
 * base units (cores, bytes). Exact enough for percentages of allocatable:
 * every value in a real cluster is far below 2^53 bytes.
 */
import { badInput } from '../core/errors.ts';

const SUFFIX: Readonly<Record<string, number>> = {
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

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

/** A quantity in base units: `parseQuantity('500m')` is 0.5, `parseQuantity('1Ki')` is 1024. */
export function parseQuantity(text: string): number {
  const match = QUANTITY.exec(text.trim());
  if (match === null) {
    throw badInput(
      `"${text}" is not a Kubernetes quantity`,
      'write it as Kubernetes does, e.g. 500m or 2 (CPU), 512Mi or 64Gi (memory)',
    );
  }
  const [, number = '0', exponent, suffix = ''] = match;
  const value = Number(number);
  if (exponent !== undefined) return value * 10 ** Number(exponent.slice(1));
  return value * (SUFFIX[suffix] ?? 1);
}

/** CPU in millicores, rounded as Kubernetes rounds (up to whole millicores). */
export function milliCpu(text: string): number {
  return Math.ceil(Math.round(parseQuantity(text) * 1e6) / 1e3);
}
