/**
 * Small, fast, non-cryptographic hashes for the probe plan: a string is
 * hashed into two independent 32-bit lanes (64 bits together), and a pair of
 * hashed names into one 53-bit rendezvous weight. Pure TypeScript, so the
 * core needs no `node:crypto`; nothing here resists an adversary, and nothing
 * needs to: node names come from the API server.
 */

/** Two 32-bit lanes of one string's hash (unsigned). */
export interface Hash64 {
  readonly hi: number;
  readonly lo: number;
}

/** Murmur3's finaliser: every input bit flips each output bit with p ≈ 1/2. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * FNV-1a over UTF-16 code units in one lane, a Murmur2-style multiply–shift
 * in the other, each finished with `fmix32`: two lanes that disagree on
 * which strings collide.
 */
export function hashString(text: string): Hash64 {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ text.length;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return { hi: fmix32(a ^ text.length), lo: fmix32(b) };
}

/** The 64-bit hash of `text` as 16 lower-case hex digits. */
export function hashHex(text: string): string {
  const { hi, lo } = hashString(text);
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/**
 * The rendezvous (highest-random-weight) weight of `observer` for `target`:
 * a 53-bit integer, exact in a double, that depends on both names' hashes
 * and on their order (w(a, b) and w(b, a) are unrelated).
 */
export function pairWeight(observer: Hash64, target: Hash64): number {
  return pairWeightOf(observer.hi, observer.lo, target.hi, target.lo);
}

/** `pairWeight` on the lanes themselves, for the planner's N² inner loop. */
export function pairWeightOf(oHi: number, oLo: number, tHi: number, tLo: number): number {
  const x = fmix32(oHi ^ Math.imul(tHi, 0x9e3779b1) ^ tLo);
  const y = fmix32(oLo ^ Math.imul(tLo, 0x27d4eb2f) ^ x ^ Math.imul(tHi, 0x165667b1));
  return x * 2_097_152 + (y >>> 11);
}
