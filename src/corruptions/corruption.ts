// The shape every corruption has: one image in, a new image out, severity 1-5, randomness from a seeded generator.
import type { Rng } from '../util/rng.js';
import type { Image } from './image.js';

/**
 * Corrupts one image at `severity` (an integer 1-5, already checked) and returns a new image of the same size; the
 * input is left as it is. Values may leave [0, 1]; corruptImages clips them at the end. All randomness comes from
 * `random`.
 */
export type Corruption = (image: Image, severity: number, random: Rng) => Image;

/** The parameter of `severity` (1-5) in a table of five from make_cifar_c.py. */
export function level<T>(table: readonly [T, T, T, T, T], severity: number): T {
  return table[severity - 1]!;
}
