// BIM: Kurakin, Goodfellow, Bengio, "Adversarial Examples in the Physical World", ICLR 2017 workshop.
// https://arxiv.org/abs/1607.02533 — iterated FGSM from the clean image, `steps` times:
// x <- Clip_{x0, eps}(x + stepSize * sign(grad_x L(x, y))), clipped to [0, 1]; stepSize defaults to eps / steps.
// Targeted (`target`, e.g. the paper's "iterative least-likely class" method): ascends the targeted objective,
// which is the paper's descent on the loss of the target class.
import * as tf from '@tensorflow/tfjs';
import type { BimConfig } from '../config/schema.js';
import { chooseTargets, FORWARD_COST, GRADIENT_COST, gradientSteps, linfStep, type AttackSpec } from './attack.js';
import { registerAttack } from './registry.js';

export const bim: AttackSpec<BimConfig> = {
  name: 'bim',
  description: 'Basic Iterative Method, iterated FGSM clipped to the eps-ball, no random start (Kurakin et al., ICLR 2017 workshop)',
  norm: 'linf',
  access: 'white-box',
  iterative: true,
  params: (config) => ({ steps: config.steps, stepSize: config.stepSize ?? 'auto', target: config.target }),
  // The target choice (least-likely: a forward pass), `steps` gradients and the final check.
  cost: (config) => (config.target === 'least-likely' ? FORWARD_COST : 0) + config.steps * GRADIENT_COST + FORWARD_COST,
  run({ target, images, labels, eps, loss, config, seed, progress }) {
    const stepSize = config.stepSize ?? eps / config.steps;
    const targets = chooseTargets(config.target, target, images, labels, seed + 7919);
    try {
      return gradientSteps({ target, loss, labels, targets, progress }, tf.clone(images), config.steps, (x, gradient) =>
        linfStep(x, gradient, images, stepSize, eps),
      );
    } finally {
      targets?.dispose();
    }
  },
};

registerAttack(bim);
