// PGD-L2: Madry, Makelov, Schmidt, Tsipras, Vladu, "Towards Deep Learning Models Resistant to Adversarial Attacks",
// ICLR 2018. https://arxiv.org/abs/1706.06083 — the L2 version (as in the robustness library and torchattacks PGDL2):
// from a random point of the L2 eps-ball, `steps` times:
// x <- Proj_{B2(x0, eps)}(x + stepSize * g / ||g||_2), g = grad_x L(x, y), then clipped to [0, 1].
// stepSize defaults to 2.5 * eps / steps. An example counts as robust only if it survives every restart.
// Targeted (`target`): ascends the targeted objective.
import * as tf from '@tensorflow/tfjs';
import type { PgdL2Config } from '../config/schema.js';
import { chooseTargets, FORWARD_COST, GRADIENT_COST, restartProgress, gradientSteps, l2Norm, projectL2, withRestarts, type AttackSpec } from './attack.js';
import { registerAttack } from './registry.js';

/**
 * g / ||g||_2 per example; 0 where g is exactly 0. Dividing by max |g| first keeps the step full-length however small
 * the gradient is (no additive constant that would shrink tiny gradients, e.g. of a saturated loss, to nothing).
 */
function unitL2(gradient: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const scaled = tf.divNoNan(gradient, tf.max(tf.abs(gradient), [1, 2, 3], true)) as tf.Tensor4D;
    return tf.divNoNan(scaled, l2Norm(scaled)) as tf.Tensor4D;
  });
}

/**
 * A uniform point of the L2 ball of radius eps around each image: a normal direction scaled to the radius
 * eps * u^(1 / d), u ~ U(0, 1), d the number of pixels (the exact uniform law on the ball, not the simpler radius
 * eps * u of torchattacks), then projected onto the ball and [0, 1].
 */
function randomStart(images: tf.Tensor4D, eps: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = images.shape;
    const direction = unitL2(tf.randomNormal(images.shape, 0, 1, 'float32', seed));
    const radius = tf.mul(tf.pow(tf.randomUniform([n, 1, 1, 1], 0, 1, 'float32', seed + 104729), 1 / (h * w * c)), eps);
    return projectL2(tf.add(images, tf.mul(direction, radius)), images, eps);
  });
}

export const pgdL2: AttackSpec<PgdL2Config> = {
  name: 'pgd-l2',
  description: 'Projected Gradient Descent in L2 with random start, restarts and targets (Madry et al., ICLR 2018)',
  norm: 'l2',
  access: 'white-box',
  iterative: true,
  params: (config) => ({
    steps: config.steps,
    stepSize: config.stepSize ?? 'auto',
    randomStart: config.randomStart,
    restarts: config.restarts,
    target: config.target,
  }),
  // The target choice (least-likely: a forward pass), then per restart `steps` gradients and the final check.
  cost: (config) => (config.target === 'least-likely' ? FORWARD_COST : 0) + config.restarts * (config.steps * GRADIENT_COST + FORWARD_COST),
  run({ target, images, labels, eps, loss, config, seed, progress }) {
    const stepSize = config.stepSize ?? (2.5 * eps) / config.steps;
    const targets = chooseTargets(config.target, target, images, labels, seed + 7919);
    try {
      return withRestarts(config.restarts, (restart) => {
        const start = config.randomStart ? randomStart(images, eps, seed + restart) : tf.clone(images);
        return gradientSteps({ target, loss, labels, targets, progress: restartProgress(progress, restart, config.restarts) }, start, config.steps, (x, gradient) =>
          projectL2(tf.add(x, tf.mul(unitL2(gradient), stepSize)), images, eps),
        );
      });
    } finally {
      targets?.dispose();
    }
  },
};

registerAttack(pgdL2);
