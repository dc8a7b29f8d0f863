// FGSM: Goodfellow, Shlens, Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015.
// https://arxiv.org/abs/1412.6572 — x' = clip(x + eps * sign(grad_x L(x, y)), 0, 1), one step.
import * as tf from '@tensorflow/tfjs';
import type { FgsmConfig } from '../config/schema.js';
import { correctMask, exactSign, FORWARD_COST, GRADIENT_COST, inputGradient, zeroGradientMask, type AttackSpec } from './attack.js';
import { registerAttack } from './registry.js';

export const fgsm: AttackSpec<FgsmConfig> = {
  name: 'fgsm',
  description: 'Fast Gradient Sign Method, one signed-gradient step of size eps (Goodfellow et al., ICLR 2015)',
  norm: 'linf',
  access: 'white-box',
  iterative: false,
  params: () => ({}),
  // One gradient and the final check.
  cost: () => GRADIENT_COST + FORWARD_COST,
  run({ target, images, labels, eps, loss }) {
    return tf.tidy(() => {
      const gradient = inputGradient(target, loss, images, labels);
      const adversarial = tf.clipByValue(tf.add(images, tf.mul(exactSign(gradient), eps)), 0, 1) as tf.Tensor4D;
      return { adversarial, robust: correctMask(target, adversarial, labels), zeroGradient: zeroGradientMask(gradient) };
    });
  },
};

registerAttack(fgsm);
