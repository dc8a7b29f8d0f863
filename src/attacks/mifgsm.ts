// MI-FGSM: Dong, Liao, Pang, Su, Zhu, Hu, Li, "Boosting Adversarial Attacks with Momentum", CVPR 2018.
// https://arxiv.org/abs/1710.06081 — from the clean image with g_0 = 0, `steps` times (Algorithm 1):
// g_{t+1} = decay * g_t + grad_x L(x_t, y) / ||grad_x L(x_t, y)||_1,
// x_{t+1} = Clip_{x0, eps}(x_t + stepSize * sign(g_{t+1})), clipped to [0, 1]; stepSize defaults to eps / steps.
// Targeted (`target`): ascends the targeted objective.
import * as tf from '@tensorflow/tfjs';
import type { MifgsmConfig } from '../config/schema.js';
import { chooseTargets, correctMask, FORWARD_COST, GRADIENT_COST, inputGradient, linfStep, zeroGradientMask, type AttackSpec } from './attack.js';
import { registerAttack } from './registry.js';

/**
 * grad / ||grad||_1 per example, with the L1 norm taken as the mean |grad| (as torchattacks does): it differs from the
 * paper's sum by the constant number of pixels, which scales every g_t alike and so leaves sign(g_t) unchanged.
 * Dividing by max |grad| first keeps tiny (but nonzero) gradients from underflowing; 0 where grad is exactly 0.
 */
function unitL1(gradient: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const scaled = tf.divNoNan(gradient, tf.max(tf.abs(gradient), [1, 2, 3], true));
    return tf.divNoNan(scaled, tf.mean(tf.abs(scaled), [1, 2, 3], true)) as tf.Tensor4D;
  });
}

export const mifgsm: AttackSpec<MifgsmConfig> = {
  name: 'mifgsm',
  description: 'Momentum Iterative FGSM: signed steps along an accumulated L1-normalised gradient (Dong et al., CVPR 2018)',
  norm: 'linf',
  access: 'white-box',
  iterative: true,
  params: (config) => ({ steps: config.steps, stepSize: config.stepSize ?? 'auto', decay: config.decay, target: config.target }),
  // The target choice (least-likely: a forward pass), `steps` gradients and the final check.
  cost: (config) => (config.target === 'least-likely' ? FORWARD_COST : 0) + config.steps * GRADIENT_COST + FORWARD_COST,
  run({ target, images, labels, eps, loss, config, seed }) {
    const stepSize = config.stepSize ?? eps / config.steps;
    const targets = chooseTargets(config.target, target, images, labels, seed + 7919);
    try {
      let adversarial = tf.clone(images);
      let momentum = tf.zerosLike(images);
      let zeroGradient: tf.Tensor1D | undefined;
      for (let step = 0; step < config.steps; step++) {
        const gradient = inputGradient(target, loss, adversarial, labels, targets);
        zeroGradient ??= zeroGradientMask(gradient);
        const nextMomentum = tf.tidy(() => tf.add(tf.mul(momentum, config.decay), unitL1(gradient)) as tf.Tensor4D);
        const next = linfStep(adversarial, nextMomentum, images, stepSize, eps);
        tf.dispose([gradient, adversarial, momentum]);
        adversarial = next;
        momentum = nextMomentum;
      }
      momentum.dispose();
      const robust = correctMask(target, adversarial, labels);
      return { adversarial, robust, zeroGradient: zeroGradient ?? tf.zerosLike(robust) };
    } finally {
      targets?.dispose();
    }
  },
};

registerAttack(mifgsm);
