// PGD-Linf: Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018.
// https://arxiv.org/abs/1706.06083 — from a random point of the eps-ball, `steps` times:
// x <- Proj_{B(x0, eps) ∩ [0,1]}(x + stepSize * sign(grad_x L(x, y))). An example counts as robust
// only if it is classified correctly after every restart.
import * as tf from '@tensorflow/tfjs';
import type { PgdConfig } from '../config/schema.js';
import { correctMask, inputGradient, projectLinf, zeroGradientMask, type AttackSpec, type AttackOutput } from './attack.js';
import { registerAttack } from './registry.js';

export const pgd: AttackSpec<PgdConfig> = {
  name: 'pgd',
  description: 'Projected Gradient Descent in L-infinity with random start and restarts (Madry et al., ICLR 2018)',
  params: (config) => ({ steps: config.steps, stepSize: config.stepSize, randomStart: config.randomStart, restarts: config.restarts }),
  run({ target, images, labels, eps, loss, config, seed }) {
    let best: AttackOutput | undefined;
    for (let restart = 0; restart < config.restarts; restart++) {
      let adversarial = config.randomStart
        ? tf.tidy(() => projectLinf(tf.add(images, tf.randomUniform(images.shape, -eps, eps, 'float32', seed + restart)), images, eps))
        : tf.clone(images);
      let zeroGradient: tf.Tensor1D | undefined;
      for (let step = 0; step < config.steps; step++) {
        const gradient = inputGradient(target, loss, adversarial, labels);
        zeroGradient ??= zeroGradientMask(gradient);
        const next = tf.tidy(() => projectLinf(tf.add(adversarial, tf.mul(tf.sign(gradient), config.stepSize)), images, eps));
        tf.dispose([gradient, adversarial]);
        adversarial = next;
      }
      const robust = correctMask(target, adversarial, labels);
      zeroGradient ??= tf.zerosLike(robust);
      if (!best) {
        best = { adversarial, robust, zeroGradient };
        continue;
      }
      const previous = best;
      // Keep, per example, the first restart that fooled the model.
      best = tf.tidy(() => {
        const keepPrevious = tf.reshape(tf.sub(1, previous.robust), [-1, 1, 1, 1]);
        return {
          adversarial: tf.add(tf.mul(keepPrevious, previous.adversarial), tf.mul(tf.sub(1, keepPrevious), adversarial)) as tf.Tensor4D,
          robust: tf.mul(previous.robust, robust) as tf.Tensor1D,
          zeroGradient: tf.clone(previous.zeroGradient),
        };
      });
      tf.dispose([previous.adversarial, previous.robust, previous.zeroGradient, adversarial, robust, zeroGradient]);
    }
    return best!;
  },
};

registerAttack(pgd);
