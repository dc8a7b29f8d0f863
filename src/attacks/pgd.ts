// PGD-Linf: Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018.
// https://arxiv.org/abs/1706.06083 — from a random point of the eps-ball, `steps` times:
// x <- Proj_{B(x0, eps) ∩ [0,1]}(x + stepSize * sign(grad_x L(x, y))). An example counts as robust
// only if it is classified correctly after every restart. Targeted (`target`): ascends the targeted objective.
import * as tf from '@tensorflow/tfjs';
import type { PgdConfig } from '../config/schema.js';
import { chooseTargets, FORWARD_COST, GRADIENT_COST, restartProgress, gradientSteps, linfStep, projectLinf, withRestarts, type AttackSpec } from './attack.js';
import { registerAttack } from './registry.js';

export const pgd: AttackSpec<PgdConfig> = {
  name: 'pgd',
  description: 'Projected Gradient Descent in L-infinity with random start, restarts and targets (Madry et al., ICLR 2018)',
  norm: 'linf',
  access: 'white-box',
  iterative: true,
  params: (config) => ({ steps: config.steps, stepSize: config.stepSize, randomStart: config.randomStart, restarts: config.restarts, target: config.target }),
  // The target choice (least-likely: a forward pass), then per restart `steps` gradients and the final check.
  cost: (config) => (config.target === 'least-likely' ? FORWARD_COST : 0) + config.restarts * (config.steps * GRADIENT_COST + FORWARD_COST),
  run({ target, images, labels, eps, loss, config, seed, progress }) {
    const targets = chooseTargets(config.target, target, images, labels, seed + 7919);
    try {
      return withRestarts(config.restarts, (restart) => {
        const start = config.randomStart
          ? tf.tidy(() => projectLinf(tf.add(images, tf.randomUniform(images.shape, -eps, eps, 'float32', seed + restart)), images, eps))
          : tf.clone(images);
        return gradientSteps({ target, loss, labels, targets, progress: restartProgress(progress, restart, config.restarts) }, start, config.steps, (x, gradient) =>
          linfStep(x, gradient, images, config.stepSize, eps),
        );
      });
    } finally {
      targets?.dispose();
    }
  },
};

registerAttack(pgd);
