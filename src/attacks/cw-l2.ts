// Carlini-Wagner L2: Carlini & Wagner, "Towards Evaluating the Robustness of Neural Networks", IEEE S&P 2017.
// https://arxiv.org/abs/1608.04644 — optimises w in tanh space, x' = (tanh(w) + 1) / 2 (always inside [0, 1]), to
// minimise ||x' - x||_2^2 + c * f(x') with Adam, where f(x') = max(z_y - max_{j != y} z_j, -kappa) untargeted and
// f(x') = max(max_{j != t} z_j - z_t, -kappa) targeted at t. The constant c is searched per example over `binarySteps`
// rounds of `steps` Adam steps, as in the authors' code: a round that found an adversarial sets the upper bound to c,
// one that did not sets the lower bound; c becomes the midpoint once an upper bound exists, else is multiplied by 10.
// Every round restarts from the clean image and keeps, per example, the smallest-L2 adversarial seen. eps is an L2
// budget: an example counts as broken only if that adversarial lies within L2 distance eps (else the clean image is
// returned). The attack has its own objective and ignores AttackRun.loss.
import * as tf from '@tensorflow/tfjs';
import type { CwL2Config } from '../config/schema.js';
import { chooseTargets, correctMask, FORWARD_COST, GRADIENT_COST, zeroGradientMask, type AttackSpec, type AttackTarget } from './attack.js';
import { bestOtherLogit, logitAt } from './losses.js';
import { registerAttack } from './registry.js';

// Scales 2x - 1 before atanh so that pixels at exactly 0 or 1 map to finite w (the authors' code uses the same factor).
const TANH_SHRINK = 0.999999;
// Adam's moment decays and denominator guard (Kingma & Ba, 2015, defaults).
const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;
const ADAM_EPSILON = 1e-8;
// An upper bound on c at or above this means "no adversarial found yet" (the authors' 1e10 start and 1e9 test).
const NO_UPPER_BOUND = 1e10;
const HAS_UPPER_BOUND = 1e9;
// Squared distance recorded for examples without an adversarial yet.
const NO_DISTANCE = 1e10;

/**
 * CW's margin before clipping at -kappa: z_y - max_{j != y} z_j untargeted, max_{j != t} z_j - z_t targeted. The
 * attack drives it below -kappa; it is negative exactly when the model is fooled (or, targeted, picks t).
 */
function cwObjectiveMargin(logits: tf.Tensor2D, labels: tf.Tensor1D, targets?: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() =>
    targets
      ? (tf.sub(bestOtherLogit(logits, targets), logitAt(logits, targets)) as tf.Tensor1D)
      : (tf.sub(logitAt(logits, labels), bestOtherLogit(logits, labels)) as tf.Tensor1D),
  );
}

/** x' = (tanh(w) + 1) / 2. */
function fromTanhSpace(w: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.mul(tf.add(tf.tanh(w), 1), 0.5) as tf.Tensor4D);
}

/** Per-example squared L2 distance, shape [n]. */
function squaredDistance(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.square(tf.sub(a, b)), [1, 2, 3]) as tf.Tensor1D);
}

/** The running best over all rounds, and whether the current round has found any adversarial (for the search on c). */
interface Best {
  distance: tf.Tensor1D;
  adversarial: tf.Tensor4D;
  roundSuccess: tf.Tensor1D;
}

/**
 * One binary-search round: `steps` Adam steps on w from the clean image with constants `c` ([n]). Returns the updated
 * bests; disposes the `best` it was given.
 */
function optimiseRound(
  target: AttackTarget,
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
  targets: tf.Tensor1D | undefined,
  c: tf.Tensor1D,
  best: Best,
  config: Pick<CwL2Config, 'steps' | 'learningRate' | 'confidence'>,
): Best {
  const kappa = config.confidence;
  let w = tf.tidy(() => tf.atanh(tf.mul(tf.sub(tf.mul(images, 2), 1), TANH_SHRINK)) as tf.Tensor4D);
  let m = tf.zerosLike(w);
  let v = tf.zerosLike(w);
  let state: Best = { ...best, roundSuccess: tf.zerosLike(best.roundSuccess) };
  best.roundSuccess.dispose();
  for (let step = 1; step <= config.steps; step++) {
    // The image and logits of the current w, kept out of the gradient's tidy so the bookkeeping needs no second forward pass.
    let seen: { adversarial: tf.Tensor4D; margin: tf.Tensor1D } | undefined;
    const next = tf.tidy(() => {
      const gradient = tf.grad((wv) => {
        const adversarial = fromTanhSpace(wv as tf.Tensor4D);
        const margin = cwObjectiveMargin(target.logits(adversarial), labels, targets);
        seen = { adversarial: tf.keep(adversarial), margin: tf.keep(margin) };
        const f = tf.maximum(margin, -kappa);
        return tf.add(tf.sum(squaredDistance(adversarial, images)), tf.sum(tf.mul(c, f)));
      })(w) as tf.Tensor4D;
      // Adam (Kingma & Ba, 2015) with bias correction; state is fresh every round, as in the authors' code.
      const nextM = tf.add(tf.mul(m, ADAM_BETA1), tf.mul(gradient, 1 - ADAM_BETA1)) as tf.Tensor4D;
      const nextV = tf.add(tf.mul(v, ADAM_BETA2), tf.mul(tf.square(gradient), 1 - ADAM_BETA2)) as tf.Tensor4D;
      const mHat = tf.div(nextM, 1 - ADAM_BETA1 ** step);
      const vHat = tf.div(nextV, 1 - ADAM_BETA2 ** step);
      const nextW = tf.sub(w, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), ADAM_EPSILON)), config.learningRate)) as tf.Tensor4D;

      // Bookkeeping on the image the gradient was taken at: success needs the margin strictly below -kappa.
      const distance = squaredDistance(seen!.adversarial, images);
      const success = tf.less(seen!.margin, -kappa);
      const better = tf.logicalAnd(success, tf.less(distance, state.distance));
      const betterImage = tf.reshape(tf.cast(better, 'float32'), [-1, 1, 1, 1]);
      return {
        w: nextW,
        m: nextM,
        v: nextV,
        best: {
          distance: tf.where(better, distance, state.distance) as tf.Tensor1D,
          // 1 * a + 0 * b is exactly a, so the kept image is bit-identical to the one that was measured.
          adversarial: tf.add(tf.mul(betterImage, seen!.adversarial), tf.mul(tf.sub(1, betterImage), state.adversarial)) as tf.Tensor4D,
          roundSuccess: tf.maximum(state.roundSuccess, tf.cast(success, 'float32')) as tf.Tensor1D,
        },
      };
    });
    tf.dispose([w, m, v, state.distance, state.adversarial, state.roundSuccess, seen?.adversarial, seen?.margin]);
    ({ w, m, v, best: state } = next);
  }
  tf.dispose([w, m, v]);
  return state;
}

export const cwL2: AttackSpec<CwL2Config> = {
  name: 'cw-l2',
  description: 'Carlini-Wagner L2, Adam in tanh space with a binary search on c; eps is an L2 budget (Carlini & Wagner, IEEE S&P 2017)',
  norm: 'l2',
  access: 'white-box',
  iterative: true,
  params: (config) => ({
    steps: config.steps,
    binarySteps: config.binarySteps,
    initialConst: config.initialConst,
    learningRate: config.learningRate,
    confidence: config.confidence,
    target: config.target,
  }),
  // The target choice (least-likely: a forward pass), the masking audit's gradient, binarySteps x steps gradients and
  // the final check.
  cost: (config) => (config.target === 'least-likely' ? FORWARD_COST : 0) + (1 + config.binarySteps * config.steps) * GRADIENT_COST + FORWARD_COST,
  run({ target, images, labels, eps, config, seed }) {
    const targets = chooseTargets(config.target, target, images, labels, seed + 7919);
    const n = images.shape[0];
    try {
      // Masking audit: the input gradient of CW's (unclipped) margin at the clean image.
      const zeroGradient = tf.tidy(() =>
        zeroGradientMask(tf.grad((x) => tf.sum(cwObjectiveMargin(target.logits(x as tf.Tensor4D), labels, targets)))(images) as tf.Tensor4D),
      );

      // The search on c lives on the device as [n] vectors, so no round reads anything back to the host.
      let c = tf.fill([n], config.initialConst) as tf.Tensor1D;
      let lower = tf.zeros([n]) as tf.Tensor1D;
      let upper = tf.fill([n], NO_UPPER_BOUND) as tf.Tensor1D;
      let best: Best = { distance: tf.fill([n], NO_DISTANCE) as tf.Tensor1D, adversarial: tf.clone(images), roundSuccess: tf.zeros([n]) as tf.Tensor1D };
      for (let round = 0; round < config.binarySteps; round++) {
        best = optimiseRound(target, images, labels, targets, c, best, config);
        const [nextC, nextLower, nextUpper] = tf.tidy(() => {
          const success = tf.cast(best.roundSuccess, 'bool');
          const newUpper = tf.where(success, tf.minimum(upper, c), upper);
          const newLower = tf.where(success, lower, tf.maximum(lower, c));
          const bisect = tf.div(tf.add(newLower, newUpper), 2);
          const newC = tf.where(tf.less(newUpper, HAS_UPPER_BOUND), bisect, tf.mul(c, 10));
          return [newC, newLower, newUpper] as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        });
        tf.dispose([c, lower, upper]);
        [c, lower, upper] = [nextC, nextLower, nextUpper];
      }
      tf.dispose([c, lower, upper, best.roundSuccess]);

      // Within the L2 budget: the best adversarial; otherwise the clean image.
      const adversarial = tf.tidy(() => {
        const within = tf.reshape(tf.cast(tf.lessEqual(tf.sqrt(best.distance), eps), 'float32'), [-1, 1, 1, 1]);
        return tf.add(tf.mul(within, best.adversarial), tf.mul(tf.sub(1, within), images)) as tf.Tensor4D;
      });
      tf.dispose([best.distance, best.adversarial]);
      return { adversarial, robust: correctMask(target, adversarial, labels), zeroGradient };
    } finally {
      targets?.dispose();
    }
  },
};

registerAttack(cwL2);
