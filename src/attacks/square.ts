// Square Attack, L-infinity: Andriushchenko, Croce, Flammarion, Hein, "Square Attack: a query-efficient black-box
// adversarial attack via random search", ECCV 2020. https://arxiv.org/abs/1912.00049 — score-based random search that
// only reads logits. Start: x_best = clip(x + eps * s, 0, 1) with vertical stripes s (one random sign per example,
// channel and column). Each later query: pick a random s x s square, set it to clip(x + eps * r, 0, 1) with one random
// sign r per channel, and keep the candidate if the loss (AttackRun.loss, maximised; the CW margin by default) improves
// or the model is fooled. With `squares: "per-example"` (the default, as the paper's own code) each example draws its
// own square, and one that would change nothing gets the opposite signs (the paper's code resamples it); with "shared"
// (as the Square inside AutoAttack's code, and temper's standard autoattack) the square and its signs are drawn once per
// query for the whole batch and a query that changes nothing is spent. `queries` such iterations follow the initial query, as the reference counts
// n_queries. The square's side is round(sqrt(p * h * w)), where p starts at pInit and halves after iterations 10, 50,
// 200, 500, 1000, 2000, 4000, 6000 and 8000 of the paper's 10000-query schedule, squeezed into `queries` (the
// reference SquareAttack's default) or, with rescaleSchedule false, as is (how AutoAttack runs its Square-5000).
// Examples stop changing once fooled, and leave the batch at the next check (every 50 queries), as in the reference
// code, so the queries go to the examples still standing. An example is robust only if it survives every restart.
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

/**
 * Random 0/1 values (1: +eps, 0: -eps) from the host generator for `rows` rows of `perRow` values each, kept only for the
 * rows in `keep` (every row when absent) and shaped [kept rows, ...rowShape]. Draws for every row, kept or not, so the
 * stream (and every kept row's draw) does not depend on which rows are still attacked.
 */
function randomSigns(rows: number, rowShape: number[], random: Rng, keep?: number[]): tf.Tensor {
  const perRow = rowShape.reduce((a, b) => a * b, 1);
  const all = Float32Array.from({ length: rows * perRow }, () => (random() < 0.5 ? 0 : 1));
  if (!keep) return tf.tensor(all, [rows, ...rowShape], 'float32');
  const kept = new Float32Array(keep.length * perRow);
  keep.forEach((row, i) => kept.set(all.subarray(row * perRow, (row + 1) * perRow), i * perRow));
  return tf.tensor(kept, [keep.length, ...rowShape], 'float32');
}

/**
 * The squares of one query for the `keep` rows of an `n`-example batch: `mask`, [kept rows, h, w, 1] (or [1, h, w, 1] when
 * shared), 1 inside the side x side square; `signs`, [kept rows, 1, 1, channels] (or [1, 1, 1, channels]), 1 for +eps and 0
 * for -eps. `per-example` (the Square paper's own code): a position and signs per example, drawn for all `n` so the stream
 * does not depend on which rows are still attacked; top-left row in 0..h - side. `shared` (AutoAttack's code): one
 * position and one sign per channel for the whole batch, the top-left row in 0..h - side - 1 as the reference's
 * random_int(0, h - s) draws it (0 when the square fills the image). Built on the host and uploaded.
 */
export function drawSquares(
  mode: SquareConfig['squares'],
  n: number,
  [height, width, channels]: [number, number, number],
  side: number,
  random: Rng,
  keep: number[],
): { mask: tf.Tensor4D; signs: tf.Tensor } {
  const shared = mode === 'shared';
  const positions = shared
    ? [[Math.floor(random() * Math.max(height - side, 1)), Math.floor(random() * Math.max(width - side, 1))] as const]
    : Array.from({ length: n }, () => [Math.floor(random() * (height - side + 1)), Math.floor(random() * (width - side + 1))] as const);
  const rows = shared ? [0] : keep;
  const mask = new Float32Array(rows.length * height * width);
  rows.forEach((example, i) => {
    const [top, left] = positions[example]!;
    for (let row = top; row < top + side; row++) mask.fill(1, (i * height + row) * width + left, (i * height + row) * width + left + side);
  });
  return { mask: tf.tensor4d(mask, [rows.length, height, width, 1]), signs: randomSigns(shared ? 1 : n, [1, 1, channels], random, shared ? undefined : keep) };
}

export const square: AttackSpec<SquareConfig> = {
  name: 'square',
  description: 'Square Attack, score-based black-box random search over squares in L-infinity (Andriushchenko et al., ECCV 2020)',
  norm: 'linf',
  access: 'black-box',
  iterative: false,
  params: (config) => ({ queries: config.queries, pInit: config.pInit, rescaleSchedule: config.rescaleSchedule, squares: config.squares, restarts: config.restarts }),
  // Per restart: the initial query, one per iteration and the final check; forward passes only.
  cost: (config) => config.restarts * (config.queries + 2) * FORWARD_COST,
  run({ target, images, labels, eps, loss, config, seed, progress }) {
    const [n, height, width, channels] = images.shape;
    // Every pixel the attack writes is one of these two: the clean pixel moved by +eps or -eps, clipped to [0, 1].
    const [plus, minus] = tf.tidy(() => [tf.clipByValue(tf.add(images, eps), 0, 1), tf.clipByValue(tf.sub(images, eps), 0, 1)] as [tf.Tensor4D, tf.Tensor4D]);
    try {
      return withRestarts(config.restarts, (restart) => {
        // Host randomness (square positions, signs) from one generator per restart; uploads only, nothing read back.
        const random = rng('square', seed, restart);
        // Each candidate is evaluated once: the objective to maximise, and the margin (> 0: fooled).
        const evaluate = (candidate: tf.Tensor4D, y: tf.Tensor1D) =>
          tf.tidy(() => {
            const logits = target.logits(candidate);
            const margin = cwMargin(logits, y);
            // The default loss is the margin itself: no need to compute it twice.
            return { value: loss.name === 'cw' ? margin.clone() : loss.apply(logits, y), margin };
          });

        // Vertical stripes: one sign per example, column and channel.
        let best = tf.tidy(() => choose(randomSigns(n, [1, width, channels], random), plus, minus));
        // A fooled example never changes again (nothing is accepted for it), so, as in the reference code, it leaves the
        // batch and the queries go to the others: `active` lists the examples still attacked and `rows` holds their rows
        // of everything per example; `best` keeps the images of the examples that left.
        let active = Array.from({ length: n }, (_, i) => i);
        let rows = { plus, minus, labels, best, ...evaluate(best, labels) };
        const disposeRows = () => tf.dispose(Object.values(rows).filter((t) => t !== plus && t !== minus && t !== labels && t !== best));
        // `best` with the active rows' current images written back.
        const mergeBack = () => {
          if (rows.best === best) return;
          const at = new Map(active.map((example, i) => [example, i]));
          const index = Array.from({ length: n }, (_, i) => at.get(i) ?? active.length + i);
          const merged = tf.tidy(() => tf.gather(tf.concat([rows.best, best]), tf.tensor1d(index, 'int32'))) as tf.Tensor4D;
          best.dispose();
          best = merged;
        };

        for (let iteration = 0; iteration < config.queries; iteration++) {
          if (iteration > 0 && iteration % EARLY_STOP_EVERY === 0) {
            // Every EARLY_STOP_EVERY queries: read the margins, drop the examples fooled since, stop once none is left.
            const margins = rows.margin.dataSync();
            const still = active.flatMap((_, i) => (margins[i]! <= 0 ? [i] : []));
            if (still.length < active.length) {
              mergeBack();
              const kept = still.map((i) => active[i]!);
              const picked = tf.tensor1d(still, 'int32');
              const next = tf.tidy(() => ({
                plus: tf.gather(rows.plus, picked),
                minus: tf.gather(rows.minus, picked),
                labels: tf.gather(rows.labels, picked),
                best: tf.gather(best, tf.tensor1d(kept, 'int32')),
                value: tf.gather(rows.value, picked),
                margin: tf.gather(rows.margin, picked),
              })) as typeof rows;
              picked.dispose();
              disposeRows();
              rows = next;
              active = kept;
            }
            progress?.(`query ${iteration}/${config.queries}, ${active.length} of ${n} standing`);
            if (active.length === 0) break;
          }
          const side = squareSide(squareShare(config.pInit, iteration, config.queries, config.rescaleSchedule), height, width);
          const { mask: inSquare, signs: up } = drawSquares(config.squares, n, [height, width, channels], side, random, active);
          const next = tf.tidy(() => {
            let signs = up;
            if (config.squares === 'per-example') {
              // A square that already holds the drawn values would change nothing; flipping its signs then guarantees a
              // change, as the paper's code resamples such a square. (AutoAttack's shared squares spend that query.)
              const unchanged = tf.equal(tf.max(tf.mul(inSquare, tf.abs(tf.sub(choose(up, rows.plus, rows.minus), rows.best))), [1, 2, 3], true), 0);
              signs = tf.abs(tf.sub(up, tf.cast(unchanged, 'float32')));
            }
            const candidate = choose(inSquare, choose(signs, rows.plus, rows.minus), rows.best);
            const { value, margin } = evaluate(candidate, rows.labels);
            // Accept where the example is not fooled yet and the objective improved or the model is now fooled.
            const accept = tf.logicalAnd(tf.lessEqual(rows.margin, 0), tf.logicalOr(tf.greater(value, rows.value), tf.greater(margin, 0)));
            return {
              best: choose(tf.reshape(tf.cast(accept, 'float32'), [-1, 1, 1, 1]), candidate, rows.best),
              value: tf.where(accept, value, rows.value) as tf.Tensor1D,
              margin: tf.where(accept, margin, rows.margin) as tf.Tensor1D,
            };
          });
          tf.dispose([inSquare, up]);
          tf.dispose([rows.value, rows.margin, ...(rows.best === best ? [] : [rows.best])]);
          rows = { ...rows, ...next };
        }
        mergeBack();
        disposeRows();
        return { adversarial: best, robust: correctMask(target, best, labels), zeroGradient: null };
      });
    } finally {
      tf.dispose([plus, minus]);
    }
  },
};

registerAttack(square);
