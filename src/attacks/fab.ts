// FAB: Croce & Hein, "Minimally distorted Adversarial Examples with a Fast Adaptive Boundary Attack", ICML 2020.
// https://arxiv.org/abs/1907.02044 — Algorithm 1, in L-infinity (`fab`) and L2 (`fab-l2`). From x^(0) (the clean image
// x_orig, or a random point at 0.5 eps on later untargeted restarts), `steps` times:
//   1. Linearise the decision boundary at x^(i): for a class k, f_k - f_y ≈ value_k + grad_k · (z - x^(i)), with
//      value_k = (z_k - z_y)(x^(i)). Untargeted: the class whose linearised boundary is nearest, argmin_k
//      |value_k| / ||grad_k||_q (q the dual norm: L1 for Linf, L2 for L2), one gradient per class. Targeted: class t.
//   2. Project x^(i) and x_orig onto that hyperplane intersected with [0, 1]^d (the smallest Lp step, projectOntoBoundary):
//      steps delta^(i) and delta_orig.
//   3. x^(i+1) = clip((1 - alpha)(x^(i) + eta delta^(i)) + alpha (x_orig + eta delta_orig), 0, 1), with
//      alpha = min(||delta^(i)|| / (||delta^(i)|| + ||delta_orig||), alpha_max): a biased step towards the original.
//   4. If x^(i+1) is misclassified, keep it when it is the closest adversarial image so far, and step back towards the
//      original: x^(i+1) = x_orig + beta (x^(i+1) - x_orig).
// The paper's and AutoAttack's defaults: 100 iterations, alpha_max 0.1, eta 1.05, beta 0.9. FAB minimises the distance;
// an example counts as broken only when the closest adversarial image found is within eps (AutoAttack's rule), and its
// output image is then that one, else the clean image. Target "top" is AutoAttack's FAB-T: restart r targets the class
// with the (r + 2)-th largest clean logit, from the clean image. As in AutoAttack, only correctly classified examples are
// attacked and each restart only those still standing; a run stops once every example has an adversarial image within
// eps (further iterations would only shrink distances). All per-example state stays in tensors.
import * as tf from '@tensorflow/tfjs';
import type { FabConfig, FabL2Config } from '../config/schema.js';
import {
  attackSurvivors,
  choose,
  chooseTargets,
  correctMask,
  exactSign,
  FORWARD_COST,
  GRADIENT_COST,
  rankedTargets,
  zeroGradientMask,
  type AttackOutput,
  type AttackSpec,
  type AttackTarget,
} from './attack.js';
import { logitAt } from './losses.js';
import { registerAttack } from './registry.js';

export type FabNorm = 'linf' | 'l2';

// Every this many iterations a run reads one scalar to stop once every example has an adversarial image within eps.
const EARLY_STOP_EVERY = 10;

// Lower bound on the step lengths in alpha, as in the reference code (keeps 0 / 0 out when both steps vanish).
const MIN_STEP = 1e-8;

/**
 * The displacement d of smallest Lp norm (p = `norm`) that puts t + d on the hyperplane {z : value + w · (z - t) = 0}
 * and inside [0, 1]^D, one row per point (points t [m, D], normals w [m, D], values at t [m]); where no point of the box
 * reaches the hyperplane, the corner of the box that gets closest to it. Each coordinate moves (in the direction that
 * lowers |value|) by at most its room to 0 or 1: by min(lambda, room_i) in Linf and min(lambda |w_i|, room_i) in L2.
 * The reduction of |value| is then g(lambda) = sum_i s_i min(lambda, b_i) with (b_i, s_i) = (room_i, |w_i|) in Linf and
 * (room_i / |w_i|, w_i^2) in L2: increasing and piecewise linear, so sorting the breakpoints b_i gives the piece where
 * g crosses |value|, and lambda follows exactly from it.
 */
export function projectOntoBoundary(points: tf.Tensor2D, normals: tf.Tensor2D, values: tf.Tensor1D, norm: FabNorm): tf.Tensor2D {
  // Ops that broadcast a [m, 1] column over [m, D] are add, sub, mul and div only: wasm tiles the operands of the others.
  return tf.tidy(() => {
    const [m, size] = points.shape;
    // Rescaling w and the value together leaves the hyperplane as it is; dividing by max |w| keeps tiny gradients usable.
    const scale = tf.maximum(tf.max(tf.abs(normals), 1, true), 1e-30);
    const w = tf.div(normals, scale) as tf.Tensor2D;
    const value = tf.div(tf.reshape(values, [-1, 1]), scale) as tf.Tensor2D;
    const needed = tf.abs(value);
    // Against w where the value is positive, along w where it is negative; 0 where w_i or the value is 0.
    const direction = tf.mul(exactSign(w), tf.neg(exactSign(value)));
    const absW = tf.abs(w);
    // L2 divides by |w_i|: coordinates with a negligible share of the gradient do not move (the reference uses 1e-8).
    const active = tf.cast(norm === 'linf' ? tf.greater(absW, 0) : tf.greater(absW, 1e-10), 'float32');
    const room = tf.where(tf.greater(direction, 0), tf.sub(1, points), points);
    const breakpoint = norm === 'linf' ? room : tf.mul(tf.divNoNan(room, absW), active);
    const slope = norm === 'linf' ? absW : tf.mul(tf.square(absW), active);

    // Breakpoints in increasing order (TopK of the negated values) and their slopes, gathered through flat indices
    // (tfjs-wasm's batched gather returns wrong rows).
    const sorted = tf.topk(tf.neg(breakpoint), size);
    const sortedBreakpoint = tf.neg(sorted.values);
    const rowStart = tf.reshape(tf.range(0, m * size, size, 'float32'), [-1, 1]);
    const flatIndices = tf.reshape(tf.cast(tf.add(tf.cast(sorted.indices, 'float32'), rowStart), 'int32'), [-1]);
    const sortedSlope = tf.reshape(tf.gather(tf.reshape(slope, [-1]), flatIndices), [m, size]);
    const totalSlope = tf.sum(slope, 1, true);
    // Slope of g past each breakpoint (relu: rounding may leave a tiny negative at the end), and the reduction from the
    // coordinates already at their limit; g at each breakpoint is their combination.
    const slopeAfter = tf.relu(tf.sub(totalSlope, tf.cumsum(sortedSlope, 1)));
    const saturated = tf.cumsum(tf.mul(sortedSlope, sortedBreakpoint), 1);
    const atBreakpoint = tf.add(saturated, tf.mul(sortedBreakpoint, slopeAfter));
    // g is increasing: the breakpoints where it is still below the value needed come first; lambda lies after them.
    const passed = tf.sum(tf.cast(tf.less(tf.sub(atBreakpoint, needed), 0), 'int32'), 1);
    const pick = tf.oneHot(passed, size + 1);
    const saturatedAt = tf.sum(tf.mul(tf.concat([tf.zeros([m, 1]), saturated], 1), pick), 1, true);
    const slopeAt = tf.sum(tf.mul(tf.concat([totalSlope, slopeAfter], 1), pick), 1, true);
    // Past the last breakpoint the box cannot reach the hyperplane: an infinite lambda moves every coordinate to its limit.
    const lambda = tf.where(tf.greater(slopeAt, 0), tf.relu(tf.div(tf.sub(needed, saturatedAt), slopeAt)), tf.fill([m, 1], Infinity));
    // min(lambda, b_i) as b_i - relu(b_i - lambda).
    const limited = tf.sub(breakpoint, tf.relu(tf.sub(breakpoint, lambda)));
    const movement = norm === 'linf' ? limited : tf.mul(absW, limited);
    return tf.mul(tf.mul(movement, direction), active) as tf.Tensor2D;
  });
}

/** Per-row Lp norm of [m, D] rows. */
function rowNorm(rows: tf.Tensor2D, norm: FabNorm): tf.Tensor1D {
  return tf.tidy(() => (norm === 'linf' ? tf.max(tf.abs(rows), 1) : tf.sqrt(tf.sum(tf.square(rows), 1))) as tf.Tensor1D);
}

/** Per-example Lp distance between two image batches. */
function distance(a: tf.Tensor4D, b: tf.Tensor4D, norm: FabNorm): tf.Tensor1D {
  return tf.tidy(() => rowNorm(tf.reshape(tf.sub(a, b), [a.shape[0], -1]), norm));
}

interface Boundary {
  /** (z_t - z_y) at the point, [n]. */
  value: tf.Tensor1D;
  /** Its input gradient, flattened to [n, D]. */
  normal: tf.Tensor2D;
}

/** z_t - z_y and its input gradient at `x`, from one forward and one backward pass. */
function boundaryTowards(target: AttackTarget, x: tf.Tensor4D, labels: tf.Tensor1D, targets: tf.Tensor1D): Boundary {
  let value: tf.Tensor1D | undefined;
  const gradient = tf.grad((input) => {
    const logits = target.logits(input as tf.Tensor4D);
    // Kept so that it outlives the gradient's scopes; the caller disposes it.
    value = tf.keep(tf.sub(logitAt(logits, targets), logitAt(logits, labels)) as tf.Tensor1D);
    return tf.sum(value);
  })(x);
  const normal = tf.reshape(gradient, [x.shape[0], -1]) as tf.Tensor2D;
  gradient.dispose();
  return { value: value!, normal };
}

// Untargeted FAB takes one gradient per class; up to this many images (copies of the batch, one per class) go through
// the model in one pass, which saves kernel launches without a large batch's memory.
const TILED_IMAGES = 512;

/**
 * The nearest linearised boundary (untargeted FAB): over every class k != y, the one with the smallest
 * |z_k - z_y| / ||grad (z_k - z_y)||_q, q the dual norm; one gradient per class, several classes per pass on copies of
 * the batch. Ties go to the lower class.
 */
function nearestBoundary(target: AttackTarget, x: tf.Tensor4D, labels: tf.Tensor1D, classes: number, norm: FabNorm): Boundary {
  const n = labels.shape[0];
  const perPass = Math.max(1, Math.min(classes, Math.floor(TILED_IMAGES / n)));
  let best: (Boundary & { distance: tf.Tensor1D }) | undefined;
  for (let first = 0; first < classes; first += perPass) {
    const count = Math.min(perPass, classes - first);
    // Copy c of the batch is differentiated towards class first + c.
    const [copies, copyLabels, towards] = tf.tidy(() => [
      tf.tile(x, [count, 1, 1, 1]) as tf.Tensor4D,
      tf.tile(labels, [count]) as tf.Tensor1D,
      tf.reshape(tf.tile(tf.reshape(tf.range(first, first + count, 1, 'int32'), [-1, 1]), [1, n]), [-1]) as tf.Tensor1D,
    ]);
    const candidate = boundaryTowards(target, copies, copyLabels, towards);
    const next = tf.tidy(() => {
      const dual = norm === 'linf' ? tf.sum(tf.abs(candidate.normal), 1) : tf.sqrt(tf.sum(tf.square(candidate.normal), 1));
      // The true class is no boundary.
      const distances = tf.where(tf.equal(copyLabels, towards), tf.fill(copyLabels.shape, Infinity), tf.div(tf.abs(candidate.value), tf.add(dual, 1e-12)));
      const byClass = tf.reshape(distances, [count, n]);
      const rows = tf.add(tf.mul(tf.argMin(byClass, 0), tf.scalar(n, 'int32')), tf.range(0, n, 1, 'int32'));
      const pass = { value: tf.gather(candidate.value, rows), normal: tf.gather(candidate.normal, rows), distance: tf.min(byClass, 0) as tf.Tensor1D };
      if (!best) return pass;
      const closer = tf.less(pass.distance, best.distance);
      return {
        value: tf.where(closer, pass.value, best.value) as tf.Tensor1D,
        normal: choose(tf.reshape(tf.cast(closer, 'float32'), [-1, 1]), pass.normal, best.normal),
        distance: tf.where(closer, pass.distance, best.distance) as tf.Tensor1D,
      };
    });
    tf.dispose([copies, copyLabels, towards, candidate.value, candidate.normal, ...(best ? [best.value, best.normal, best.distance] : [])]);
    best = next;
  }
  best!.distance.dispose();
  return { value: best!.value, normal: best!.normal };
}

interface FabSettings {
  steps: number;
  alphaMax: number;
  eta: number;
  beta: number;
}

/** One run of Algorithm 1 from `start` (which it takes over) towards `targets`, or the nearest boundary when undefined. */
function fabOnce(
  { target, images, labels, eps, norm, classes, config }: { target: AttackTarget; images: tf.Tensor4D; labels: tf.Tensor1D; eps: number; norm: FabNorm; classes: number; config: FabSettings },
  targets: tf.Tensor1D | undefined,
  start: tf.Tensor4D,
): AttackOutput {
  const n = images.shape[0];
  const clean = tf.reshape(images, [n, -1]) as tf.Tensor2D;
  let x = start;
  let best = tf.clone(images);
  let bestDistance = tf.fill([n], Infinity) as tf.Tensor1D;
  let zeroGradient: tf.Tensor1D | undefined;
  for (let i = 0; i < config.steps; i++) {
    if (i > 0 && i % EARLY_STOP_EVERY === 0) {
      // One scalar read: stop once every example has an adversarial image within eps.
      const left = tf.tidy(() => tf.any(tf.greater(bestDistance, eps)));
      const any = left.dataSync()[0];
      left.dispose();
      if (!any) break;
    }
    const { value, normal } = targets ? boundaryTowards(target, x, labels, targets) : nearestBoundary(target, x, labels, classes, norm);
    zeroGradient ??= tf.tidy(() => zeroGradientMask(tf.reshape(normal, images.shape)));
    const current = x;
    const moved = tf.tidy(() => {
      const flat = tf.reshape(current, [n, -1]) as tf.Tensor2D;
      // The same linearisation, evaluated at the original image.
      const valueAtClean = tf.add(value, tf.sum(tf.mul(normal, tf.sub(clean, flat)), 1)) as tf.Tensor1D;
      const steps = projectOntoBoundary(tf.concat([flat, clean]), tf.concat([normal, normal]), tf.concat([value, valueAtClean]), norm);
      const lengths = tf.maximum(rowNorm(steps, norm), MIN_STEP);
      const [fromCurrent, fromClean] = tf.split(steps, 2) as [tf.Tensor2D, tf.Tensor2D];
      const [lengthCurrent, lengthClean] = tf.split(lengths, 2) as [tf.Tensor1D, tf.Tensor1D];
      const alpha = tf.reshape(tf.clipByValue(tf.div(lengthCurrent, tf.add(lengthCurrent, lengthClean)), 0, config.alphaMax), [-1, 1]);
      const next = tf.add(tf.mul(tf.add(flat, tf.mul(fromCurrent, config.eta)), tf.sub(1, alpha)), tf.mul(tf.add(clean, tf.mul(fromClean, config.eta)), alpha));
      return tf.reshape(tf.clipByValue(next, 0, 1), images.shape) as tf.Tensor4D;
    });
    tf.dispose([value, normal, current]);
    // One forward pass: is the new iterate adversarial? Keep it if it is the closest so far, then step back.
    const next = tf.tidy(() => {
      const fooled = tf.notEqual(tf.argMax(target.logits(moved), -1), labels);
      const movedDistance = distance(moved, images, norm);
      const closer = tf.logicalAnd(fooled, tf.less(movedDistance, bestDistance));
      const perImage = (mask: tf.Tensor) => tf.reshape(tf.cast(mask, 'float32'), [-1, 1, 1, 1]);
      return {
        best: choose(perImage(closer), moved, best),
        bestDistance: tf.where(closer, movedDistance, bestDistance) as tf.Tensor1D,
        x: choose(perImage(fooled), tf.add(images, tf.mul(tf.sub(moved, images), config.beta)) as tf.Tensor4D, moved),
      };
    });
    tf.dispose([moved, best, bestDistance]);
    ({ best, bestDistance, x } = next);
  }
  const adversarial = tf.tidy(() => choose(tf.reshape(tf.cast(tf.lessEqual(bestDistance, eps), 'float32'), [-1, 1, 1, 1]), best, images));
  tf.dispose([x, best, bestDistance, clean]);
  return { adversarial, robust: correctMask(target, adversarial, labels), zeroGradient: zeroGradient ?? tf.zeros([n]) };
}

/** A random start at 0.5 eps (Linf: uniform noise scaled to max 0.5 eps; L2: normal noise scaled to 0.5 eps), as the reference code draws it. */
function randomStart(images: tf.Tensor4D, eps: number, norm: FabNorm, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const noise = norm === 'linf' ? tf.randomUniform(images.shape, -1, 1, 'float32', seed) : tf.randomNormal(images.shape, 0, 1, 'float32', seed);
    const length = tf.reshape(rowNorm(tf.reshape(noise, [images.shape[0], -1]) as tf.Tensor2D, norm), [-1, 1, 1, 1]);
    return tf.clipByValue(tf.add(images, tf.mul(tf.divNoNan(noise, length), 0.5 * eps)), 0, 1) as tf.Tensor4D;
  });
}

/** Runs of a FAB config on `classes` classes: "top" has one target class per restart. */
function fabRuns(config: Pick<FabConfig, 'restarts' | 'target'>, classes: number): number {
  return config.target === 'top' ? Math.min(config.restarts, classes - 1) : config.restarts;
}

/** The FAB attack in `norm`, registered as `name`. */
export function fabAttack<C extends FabConfig | FabL2Config>(name: C['name'], norm: FabNorm, description: string): AttackSpec<C> {
  return {
    name,
    description,
    norm,
    access: 'white-box',
    iterative: true,
    params: (config) => ({ steps: config.steps, restarts: config.restarts, alphaMax: config.alphaMax, eta: config.eta, beta: config.beta, target: config.target }),
    // The clean check, then per run: a target choice (least-likely: a forward pass), per iteration the boundary's
    // gradients (one per class untargeted) and one forward pass, and the final check.
    cost: (config, { classes }) => {
      const perIteration = (config.target === 'none' ? classes : 1) * GRADIENT_COST + FORWARD_COST;
      const perRun = (config.target === 'least-likely' ? FORWARD_COST : 0) + config.steps * perIteration + FORWARD_COST;
      return FORWARD_COST + fabRuns(config, classes) * perRun;
    },
    run({ target, images, labels, eps, config, seed }) {
      return attackSurvivors({ target, images, labels }, (classes) => fabRuns(config, classes), { gradients: true }, (restart, survivors) => {
        const classes = survivors.logits.shape[1];
        const targets =
          config.target === 'top'
            ? rankedTargets(survivors.logits, restart + 2)
            : chooseTargets(config.target, target, survivors.images, survivors.labels, seed + 7919 * (restart + 1));
        // "top" starts every target class from the clean image, as AutoAttack's FAB-T (one restart per class) does.
        const start = restart === 0 || config.target === 'top' ? tf.clone(survivors.images) : randomStart(survivors.images, eps, norm, seed + restart);
        try {
          return fabOnce({ target, images: survivors.images, labels: survivors.labels, eps, norm, classes, config }, targets, start);
        } finally {
          targets?.dispose();
        }
      });
    },
  };
}

export const fab = fabAttack<FabConfig>(
  'fab',
  'linf',
  'Fast Adaptive Boundary attack in L-infinity: minimal adversarial images by projections onto the linearised boundary; FAB-T with target "top" (Croce & Hein, ICML 2020)',
);

registerAttack(fab);
