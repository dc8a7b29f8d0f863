// Samplers built on a seeded uniform generator (rng() of src/util/rng.ts), so every corruption is reproducible.
import type { Rng } from '../util/rng.js';

/** Standard normal deviates by the Box-Muller transform; each pair of uniforms gives two deviates (the second is kept). */
export function normalSampler(random: Rng): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - random())); // 1 - u lies in (0, 1], so the log is finite
    const angle = 2 * Math.PI * random();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

/** Above this mean a Poisson count is drawn from its normal approximation (Knuth's method costs ~lambda uniforms). */
export const POISSON_NORMAL_ABOVE = 30;

/**
 * A Poisson count with mean `lambda` >= 0. Up to POISSON_NORMAL_ABOVE: Knuth's multiplication method (exact).
 * Above it: round(lambda + sqrt(lambda) * z), floored at 0, with z from `normal`; at lambda > 30 the skew of the
 * Poisson is below 0.18, and shot noise divides the count by lambda's scale anyway.
 */
export function poisson(lambda: number, random: Rng, normal: () => number): number {
  if (!(lambda > 0)) return 0;
  if (lambda > POISSON_NORMAL_ABOVE) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal()));
  const limit = Math.exp(-lambda);
  let count = -1;
  let product = 1;
  do {
    count++;
    product *= random();
  } while (product > limit);
  return count;
}

/** A uniform integer in lo..hi - 1 (numpy's randint(lo, hi)). */
export function randomInt(random: Rng, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo));
}

/** A uniform float in [lo, hi). */
export function uniform(random: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * random();
}
