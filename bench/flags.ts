/**
 * `--name N` from the command line: `fallback` when absent; exits 2 with a
 * message naming the flag and its range when N is not a number in
 * [min, max] (or not whole, for `whole`).
 */
export function numberFlag(
  name: string,
  fallback: number,
  min: number,
  max: number,
  whole = true,
): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || (whole && !Number.isInteger(v)) || v < min || v > max) {
    console.error(
      `--${name} must be ${whole ? 'a whole number' : 'a number'} from ${min} to ${max}`,
    );
    process.exit(2);
  }
  return v;
}
