/**
 * Seeded pseudo-random numbers, so that example weights, test inputs and
 * --verify inputs are the same on every run and every machine.
 */

/** mulberry32: a small, fast generator with a 32-bit state. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a hash of a string, to derive per-name seeds. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** `count` values uniform in [low, high), from `seed`. */
export function uniform(count: number, seed: number, low = -1, high = 1): Float32Array {
  const next = seededRandom(seed);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = low + (high - low) * next();
  return data;
}
