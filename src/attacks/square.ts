// Square Attack, L-infinity: Andriushchenko, Croce, Flammarion, Hein, "Square Attack: a query-efficient black-box
// adversarial attack via random search", ECCV 2020. https://arxiv.org/abs/1912.00049 — score-based random search that
// only reads logits. Start: x_best = clip(x + eps * s, 0, 1) with vertical stripes s (one random sign per example,
// channel and column). Each later query: pick per example a random s x s square, set it to clip(x + eps * r, 0, 1)
// with one random sign r per channel, and keep the candidate if the loss (AttackRun.loss, maximised; the CW margin by
// default) improves or the model is fooled. `queries` such iterations follow the initial query, as the reference counts
// n_queries. The square's side is round(sqrt(p * h * w)), where p starts at pInit and halves after iterations 10, 50,
// 200, 500, 1000, 2000, 4000, 6000 and 8000 of the paper's 10000-query schedule, squeezed into `queries` (the
// reference SquareAttack's default) or, with rescaleSchedule false, as is (how AutoAttack runs its Square-5000).
// Examples stop changing once fooled. An example is robust only if it survives every restart.
import * as tf from '@tensorflow/tfjs';
import type { SquareConfig } from '../config/schema.js';
import { choose, correctMask, FORWARD_COST, withRestarts, type AttackSpec } from './attack.js';
import { cwMargin } from './losses.js';
import { rng, type Rng } from '../util/rng.js';
import { registerAttack } from './registry.js';

// Every this many queries the attack reads one scalar to stop early once every example is fooled.
const EARLY_STOP_EVERY = 50;

/**
 * Share of pixels changed at iteration `iteration` (counted from 0) of a `queries`-iteration run: the paper's schedule,
 * halving after iterations 10, 50, ..., 8000; with `rescale`, that 10000-query schedule squeezed into `queries`.
 */
export function squareShare(pInit: number, iteration: number, queries: number, rescale = false): number {
  const scaled = rescale ? Math.floor((iteration / queries) * 10000) : iteration;
  const halvings = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000].filter((boundary) => scaled > boundary).length;
  return pInit / 2 ** halvings;
}

/** Side of the square: round(sqrt(p * h * w)), at least 1 and at most min(h, w), as in the reference code. */
export function squareSide(share: number, height: number, width: number): number {
  return Math.max(1, Math.min(Math.round(Math.sqrt(share * height * width)), Math.min(height, width)));
}

/** Random 0/1 values (1: +eps, 0: -eps) from the host generator, as a float tensor of `shape`. */
function randomSigns(shape: number[], random: Rng): tf.Tensor {
  const count = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: count }, () => (random() < 0.5 ? 0 : 1)), shape, 'float32');
}

/**
 * A [n, h, w, 1] 0/1 mask, 1 inside each example's side x side square at a uniformly drawn position (top-left row in
 * 0..h - side, column in 0..w - side; the reference code never draws the last one). Built on the host and uploaded:
 * one op instead of a dozen small ones.
 */
function squareMask(n: number, height: number, width: number, side: number, random: Rng): tf.Tensor4D {
  const mask = new Float32Array(n * height * width);
  for (let i = 0; i < n; i++) {
    const top = Math.floor(random() * (height - side + 1));
    const left = Math.floor(random() * (width - side + 1));
    for (let row = top; row < top + side; row++) mask.fill(1, (i * height + row) * width + left, (i * height + row) * width + left + side);
  }
  return tf.tensor4d(mask, [n, height, width, 1]);
}

export const square: AttackSpec<SquareConfig> = {
  name: 'square',
  description: 'Square Attack, score-based black-box random search over squares in L-infinity (Andriushchenko et al., ECCV 2020)',
  norm: 'linf',
  access: 'black-box',
  iterative: false,
  params: (config) => ({ queries: config.queries, pInit: config.pInit, rescaleSchedule: config.rescaleSchedule, restarts: config.restarts }),
  // Per restart: the initial query, one per iteration and the final check; forward passes only.
  cost: (config) => config.restarts * (config.queries + 2) * FORWARD_COST,
  run({ target, images, labels, eps, loss, config, seed }) {
    const [n, height, width, channels] = images.shape;
    // Every pixel the attack writes is one of these two: the clean pixel moved by +eps or -eps, clipped to [0, 1].
    const [plus, minus] = tf.tidy(() => [tf.clipByValue(tf.add(images, eps), 0, 1), tf.clipByValue(tf.sub(images, eps), 0, 1)] as [tf.Tensor4D, tf.Tensor4D]);
    try {
      return withRestarts(config.restarts, (restart) => {
        // Host randomness (square positions, signs) from one generator per restart; uploads only, nothing read back.
        const random = rng('square', seed, restart);
        // Each candidate is evaluated once: the objective to maximise, and the margin (> 0: fooled).
        const evaluate = (candidate: tf.Tensor4D) =>
          tf.tidy(() => {
            const logits = target.logits(candidate);
            const margin = cwMargin(logits, labels);
            // The default loss is the margin itself: no need to compute it twice.
            return { value: loss.name === 'cw' ? margin.clone() : loss.apply(logits, labels), margin };
          });

        // Vertical stripes: one sign per example, column and channel.
        let best = tf.tidy(() => choose(randomSigns([n, 1, width, channels], random), plus, minus));
        let { value: bestValue, margin: bestMargin } = evaluate(best);

        for (let iteration = 0; iteration < config.queries; iteration++) {
          if (iteration > 0 && iteration % EARLY_STOP_EVERY === 0) {
            // One scalar read every EARLY_STOP_EVERY queries: stop once every example is fooled.
            const anyLeft = tf.tidy(() => tf.any(tf.lessEqual(bestMargin, 0)));
            const left = anyLeft.dataSync()[0];
            anyLeft.dispose();
            if (!left) break;
          }
          const side = squareSide(squareShare(config.pInit, iteration, config.queries, config.rescaleSchedule), height, width);
          const inSquare = squareMask(n, height, width, side, random);
          const up = randomSigns([n, 1, 1, channels], random);
          const next = tf.tidy(() => {
            // A square that already holds the drawn values would change nothing; flipping its signs then guarantees a
            // change (the reference code redraws instead), so no query is wasted.
            const unchanged = tf.equal(tf.max(tf.mul(inSquare, tf.abs(tf.sub(choose(up, plus, minus), best))), [1, 2, 3], true), 0);
            const flipped = tf.abs(tf.sub(up, tf.cast(unchanged, 'float32')));
            const candidate = choose(inSquare, choose(flipped, plus, minus), best);
            const { value, margin } = evaluate(candidate);
            // Accept where the example is not fooled yet and the objective improved or the model is now fooled.
            const accept = tf.logicalAnd(tf.lessEqual(bestMargin, 0), tf.logicalOr(tf.greater(value, bestValue), tf.greater(margin, 0)));
            return {
              best: choose(tf.reshape(tf.cast(accept, 'float32'), [-1, 1, 1, 1]), candidate, best),
              value: tf.where(accept, value, bestValue) as tf.Tensor1D,
              margin: tf.where(accept, margin, bestMargin) as tf.Tensor1D,
            };
          });
          tf.dispose([inSquare, up, best, bestValue, bestMargin]);
          ({ best, value: bestValue, margin: bestMargin } = next);
        }
        tf.dispose([bestValue, bestMargin]);
        return { adversarial: best, robust: correctMask(target, best, labels), zeroGradient: null };
      });
    } finally {
      tf.dispose([plus, minus]);
    }
  },
};

registerAttack(square);
