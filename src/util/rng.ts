// Seeded randomness for everything outside tfjs ops (shuffles, splits, synthetic data).
import seedrandom from 'seedrandom';

export type Rng = () => number;

/** A deterministic generator in [0, 1) for a seed made of any parts, e.g. rng('shuffle', seed, epoch). */
export function rng(...seedParts: Array<string | number>): Rng {
  return seedrandom.alea(seedParts.join(':'));
}

/** Fisher-Yates shuffle of 0..n-1. */
export function permutation(n: number, random: Rng): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** A 32-bit integer seed for tfjs ops (randomUniform, initialisers) derived from named parts. */
export function intSeed(...seedParts: Array<string | number>): number {
  return Math.floor(rng(...seedParts)() * 0x7fffffff);
}
