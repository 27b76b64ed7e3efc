/**
 * Seeded randomness for tests whose data must be the same every run (or repeatable from a
 * printed seed).
 */

/** A seeded generator (mulberry32): from one seed, the same numbers in [0, 1) every run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCABULARY = Array.from({ length: 3_000 }, (_, i) => `w${i.toString(36)}x${(i * 7919) % 97}`);

/** `count` words of a 3,000-word vocabulary, drawn by `next`: text that repeats only where asked. */
export const seededWords = (next: () => number, count: number): string =>
  Array.from({ length: count }, () => VOCABULARY[Math.floor(next() * VOCABULARY.length)]).join(" ");
