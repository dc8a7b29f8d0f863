// APGD-Linf: Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free
// attacks", ICML 2020. https://arxiv.org/abs/2003.01690 — Algorithm 1. From a random point x0 of the eps-ball, with
// P the projection onto B(x_clean, eps) ∩ [0,1] and a per-example step size eta starting at 2 * eps:
//   x1 = P(x0 + eta * sign(grad f(x0)))                                   (a plain projected step)
//   z = P(xk + eta * sign(grad f(xk))),  x{k+1} = P(xk + alpha (z - xk) + (1 - alpha)(xk - x{k-1})),  alpha = 0.75.
// Each example keeps its best point x_max (highest objective f). At the checkpoints w_j (apgdCheckpoints) an example
// halves eta and restarts from x_max when at most rho of its steps since the last checkpoint raised f (condition 1),
// or when eta was not halved at the last checkpoint and f_max has not grown since (condition 2; not at w_1).
// Loss "ce" is APGD-CE, "dlr" APGD-DLR; "dlr" with a target is APGD-T (targeted DLR, eq. 7), and target "top" picks
// the targets as AutoAttack does: restart r targets the class with the (r + 2)-th largest clean logit. As in AutoAttack,
// only correctly classified examples are attacked, and each restart only those no earlier restart broke. An example
// counts as broken as soon as any iterate is misclassified; its output image is then the first iterate that fooled the
// model, else its best point. All per-example state stays in tensors: no host reads inside the loop.
import * as tf from '@tensorflow/tfjs';
import type { ApgdConfig } from '../config/schema.js';
import {
  attackSurvivors,
  choose,
  chooseTargets,
  exactSign,
  FORWARD_COST,
  GRADIENT_COST,
  projectLinf,
  rankedTargets,
  zeroGradientMask,
  type AttackOutput,
  type AttackSpec,
  type AttackTarget,
} from './attack.js';
import type { AttackLoss } from './losses.js';
import { registerAttack } from './registry.js';

/** Momentum weight alpha of the update (the paper's value). */
const MOMENTUM = 0.75;

/**
 * The checkpoints w_0 = 0 < w_1 < ... < steps of Algorithm 1: w_j = ceil(p_j * steps) with p_0 = 0, p_1 = 0.22 and
 * p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06). Checkpoints at or past `steps` are dropped (nothing follows them),
 * as are repeats that rounding gives when `steps` is small.
 */
export function apgdCheckpoints(steps: number): number[] {
  // p in hundredths, so that ceil(p * steps) is exact (0.22 + 0.19 is not 0.41 in floating point).
  const checkpoints = [0];
  let previous = 0;
  let current = 22;
  for (;;) {
    const w = Math.ceil((current * steps) / 100);
    if (w >= steps) return checkpoints;
    if (w > checkpoints[checkpoints.length - 1]!) checkpoints.push(w);
    [previous, current] = [current, current + Math.max(current - previous - 3, 6)];
  }
}

interface Evaluation {
  /** Per-example objective f at the point. */
  loss: tf.Tensor1D;
  /** Gradient of the summed objective with respect to the point. */
  gradient: tf.Tensor4D;
  /** 1 where the point is classified as its true label. */
  correct: tf.Tensor1D;
}

/** f, its input gradient and the predictions at `x`, from one forward and one backward pass. */
function evaluate(target: AttackTarget, loss: AttackLoss, x: tf.Tensor4D, labels: tf.Tensor1D, targets: tf.Tensor1D | undefined): Evaluation {
  let perExample: tf.Tensor1D | undefined;
  let correct: tf.Tensor1D | undefined;
  const gradient = tf.grad((input) => {
    const logits = target.logits(input as tf.Tensor4D);
    // Kept so that they outlive the gradient's scopes; the caller disposes them.
    perExample = tf.keep(loss.apply(logits, labels, targets));
    correct = tf.keep(tf.cast(tf.equal(tf.argMax(logits, -1), labels), 'float32') as tf.Tensor1D);
    return tf.sum(perExample);
  })(x) as tf.Tensor4D;
  return { loss: perExample!, gradient, correct: correct! };
}

/** Everything one run tracks per example, all on the device. */
type State = {
  /** Current iterate x_k and the one before it (for the momentum term). */
  x: tf.Tensor4D;
  previous: tf.Tensor4D;
  /** Gradient and objective at x_k. */
  gradient: tf.Tensor4D;
  loss: tf.Tensor1D;
  /** Step size, shaped [n, 1, 1, 1]. */
  eta: tf.Tensor4D;
  /** Steps since the last checkpoint that raised f. */
  increases: tf.Tensor1D;
  /** x_max, its gradient and f_max. */
  best: tf.Tensor4D;
  bestGradient: tf.Tensor4D;
  bestLoss: tf.Tensor1D;
  /** f_max, and 1 where eta was halved, at the last checkpoint (condition 2). */
  bestLossAtCheck: tf.Tensor1D;
  reducedAtCheck: tf.Tensor1D;
  /** 1 while every iterate so far was classified correctly. */
  robust: tf.Tensor1D;
  /** The first iterate that fooled the model (meaningful where robust is 0). */
  fooling: tf.Tensor4D;
};

/**
 * Which examples halve eta (and restart from x_max) at a checkpoint `interval` steps after the previous one, as a bool
 * mask: condition 1 (at most rho * interval of those steps raised f: the reference code's <=, where the paper writes <;
 * they differ only when rho * interval is a whole number) or condition 2 (eta not halved at the previous checkpoint and
 * f_max no higher than it was there).
 */
export function checkpointHalves(
  { increases, reducedAtCheck, bestLoss, bestLossAtCheck }: { increases: tf.Tensor1D; reducedAtCheck: tf.Tensor1D; bestLoss: tf.Tensor1D; bestLossAtCheck: tf.Tensor1D },
  interval: number,
  rho: number,
): tf.Tensor1D {
  return tf.tidy(() => {
    const condition1 = tf.lessEqual(increases, rho * interval);
    const condition2 = tf.logicalAnd(tf.equal(reducedAtCheck, 0), tf.lessEqual(bestLoss, bestLossAtCheck));
    return tf.logicalOr(condition1, condition2) as tf.Tensor1D;
  });
}

/** [n] mask (float 0/1 or bool) to a float 0/1 [n, 1, 1, 1] choice per image, for `choose`. */
function perImage(mask: tf.Tensor1D): tf.Tensor4D {
  return tf.reshape(tf.cast(mask, 'float32'), [-1, 1, 1, 1]);
}

/** Disposes the tensors of `old` that `next` no longer holds. */
function disposeReplaced(old: tf.Tensor[], next: State): void {
  const kept = new Set<tf.Tensor>(Object.values(next));
  tf.dispose([...new Set(old)].filter((t) => !kept.has(t)));
}

/** One run of Algorithm 1 from a random start drawn with `seed`. */
function attackOnce(
  { target, images, labels, eps, loss, config }: { target: AttackTarget; images: tf.Tensor4D; labels: tf.Tensor1D; eps: number; loss: AttackLoss; config: { steps: number; rho: number } },
  targets: tf.Tensor1D | undefined,
  seed: number,
  progress?: (detail: string) => void,
): AttackOutput {
  const checkpoints = apgdCheckpoints(config.steps);
  // Random start as in the reference code: uniform noise rescaled so that its largest component per example is eps.
  const start = tf.tidy(() => {
    const noise = tf.randomUniform(images.shape, -1, 1, 'float32', seed);
    const scale = tf.div(eps, tf.add(tf.max(tf.abs(noise), [1, 2, 3], true), 1e-12));
    return projectLinf(tf.add(images, tf.mul(noise, scale)), images, eps);
  });
  const first = evaluate(target, loss, start, labels, targets);
  const zeroGradient = zeroGradientMask(first.gradient);
  let state: State = {
    x: start,
    previous: start,
    gradient: first.gradient,
    loss: first.loss,
    eta: tf.fill([images.shape[0], 1, 1, 1], 2 * eps) as tf.Tensor4D,
    increases: tf.zerosLike(first.loss),
    best: start,
    bestGradient: first.gradient,
    bestLoss: first.loss,
    bestLossAtCheck: first.loss,
    // As in the reference code, condition 2 is not tested at w_1: it counts as if eta had been halved at w_0.
    reducedAtCheck: tf.onesLike(first.loss),
    robust: first.correct,
    fooling: start,
  };

  let lastCheckpoint = 0;
  for (let k = 1; k <= config.steps; k++) {
    // Every tenth step: the bar moves without a read back from the device.
    if (k === 1 || k % 10 === 0) progress?.(`step ${k}/${config.steps}`);
    const current = state;
    const moved = tf.tidy(() => {
      const z = projectLinf(tf.add(current.x, tf.mul(current.eta, exactSign(current.gradient))), images, eps);
      if (k === 1) return z;
      const momentum = tf.add(tf.mul(tf.sub(z, current.x), MOMENTUM), tf.mul(tf.sub(current.x, current.previous), 1 - MOMENTUM));
      return projectLinf(tf.add(current.x, momentum), images, eps);
    });
    const found = evaluate(target, loss, moved, labels, targets);
    const isCheckpoint = checkpoints.includes(k);
    const interval = k - lastCheckpoint;
    const next = tf.tidy((): State => {
      const newlyFooled = tf.mul(current.robust, tf.sub(1, found.correct)) as tf.Tensor1D;
      const improved = tf.greater(found.loss, current.bestLoss) as tf.Tensor1D;
      const step: State = {
        x: moved,
        previous: current.x,
        gradient: found.gradient,
        loss: found.loss,
        eta: current.eta,
        increases: tf.add(current.increases, tf.cast(tf.greater(found.loss, current.loss), 'float32')),
        best: choose(perImage(improved), moved, current.best),
        bestGradient: choose(perImage(improved), found.gradient, current.bestGradient),
        bestLoss: tf.maximum(found.loss, current.bestLoss),
        bestLossAtCheck: current.bestLossAtCheck,
        reducedAtCheck: current.reducedAtCheck,
        robust: tf.mul(current.robust, found.correct),
        fooling: choose(perImage(newlyFooled), moved, current.fooling),
      };
      if (!isCheckpoint) return step;
      const halve = checkpointHalves(step, interval, config.rho);
      const halveImage = perImage(halve);
      return {
        ...step,
        eta: choose(halveImage, tf.mul(step.eta, 0.5) as tf.Tensor4D, step.eta),
        // Restart from x_max: the next step starts there, with its gradient; its momentum term is x_max - x_{k-1}, and
        // its objective is compared with that of x_k, the iterate it replaced, as in the reference code.
        x: choose(halveImage, step.best, step.x),
        gradient: choose(halveImage, step.bestGradient, step.gradient),
        increases: tf.zerosLike(step.increases),
        bestLossAtCheck: step.bestLoss,
        reducedAtCheck: tf.cast(halve, 'float32'),
      };
    });
    if (isCheckpoint) lastCheckpoint = k;
    disposeReplaced([...Object.values(current), moved, found.loss, found.gradient, found.correct], next);
    state = next;
  }

  const adversarial = tf.tidy(() => choose(perImage(state.robust), state.best, state.fooling));
  const robust = tf.clone(state.robust);
  tf.dispose([...new Set<tf.Tensor>(Object.values(state))]);
  return { adversarial, robust, zeroGradient };
}

/** Runs of an APGD config on a dataset with `classes` classes: "top" has one target class per restart. */
export function apgdRuns(config: Pick<ApgdConfig, 'restarts' | 'target'>, classes: number): number {
  return config.target === 'top' ? Math.min(config.restarts, classes - 1) : config.restarts;
}

export const apgd: AttackSpec<ApgdConfig> = {
  name: 'apgd',
  description: 'Auto-PGD in L-infinity: momentum PGD whose step size halves at checkpoints; APGD-CE, APGD-DLR, APGD-T (Croce & Hein, ICML 2020)',
  norm: 'linf',
  access: 'white-box',
  iterative: true,
  params: (config) => ({ steps: config.steps, restarts: config.restarts, rho: config.rho, target: config.target }),
  // The clean check, then per run: a target choice (least-likely: a forward pass) and steps + 1 gradients.
  cost: (config, { classes }) =>
    FORWARD_COST + apgdRuns(config, classes) * ((config.target === 'least-likely' ? FORWARD_COST : 0) + (config.steps + 1) * GRADIENT_COST),
  run({ target, images, labels, eps, loss, config, seed, progress }) {
    return attackSurvivors({ target, images, labels }, (classes) => apgdRuns(config, classes), { gradients: true }, (restart, survivors) => {
      const runs = apgdRuns(config, survivors.logits.shape[1]);
      const run = config.target === 'top' ? `target ${restart + 1}/${runs}` : `restart ${restart + 1}/${runs}`;
      const tell = progress && runs > 1 ? (detail: string) => progress(`${run}, ${survivors.labels.shape[0]} standing, ${detail}`) : progress;
      // "top": the next class down the clean ranking. "random": a new draw each restart, from the survivors' seed.
      const targets =
        config.target === 'top'
          ? rankedTargets(survivors.logits, restart + 2)
          : chooseTargets(config.target, target, survivors.images, survivors.labels, seed + 7919 * (restart + 1));
      try {
        return attackOnce({ target, images: survivors.images, labels: survivors.labels, eps, loss, config }, targets, seed + restart, tell);
      } finally {
        targets?.dispose();
      }
    });
  },
};

registerAttack(apgd);
