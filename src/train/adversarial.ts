// Adversarial training (Madry, Makelov, Schmidt, Tsipras, Vladu, "Towards Deep Learning Models Resistant to
// Adversarial Attacks", ICLR 2018, https://arxiv.org/abs/1706.06083): min_theta E[max_{||d||_inf <= eps} L(x + d, y)].
// The inner maximum is approximated per batch with the project's own PGD-Linf (random start) or FGSM against the
// current weights; the outer minimum is the usual training step on the resulting images.
import * as tf from '@tensorflow/tfjs';
import type { AdversarialTrainingConfig, FgsmConfig, PgdConfig } from '../config/schema.js';
import { attackLoss, getAttack } from '../attacks/index.js';
import type { AttackTarget, RunConfig } from '../attacks/attack.js';

/** The training attack's resolved loss temperature: a number, or "train" for the model's own temperature. */
export function adversarialLossTemperature(config: AdversarialTrainingConfig, temperature: number): number {
  return config.lossTemperature === 'train' ? temperature : config.lossTemperature;
}

/** PGD's step size: the configured one, else 2.5 * eps / steps (the schema's documented default). */
export function adversarialStepSize(config: AdversarialTrainingConfig): number {
  return config.stepSize ?? (2.5 * config.eps) / config.steps;
}

/**
 * Adversarial versions of `images` against the current `model`, for one training step. The caller owns the result;
 * nothing else is kept. `temperature` is the job's training temperature (it resolves lossTemperature "train"),
 * `seed` fixes PGD's random start, so equal seeds give equal images.
 *
 * The model runs in inference mode while the attack searches (model.apply(x, {training: false})): dropout is off
 * and batch normalisation uses its moving statistics, which the attack's many forward passes therefore never update.
 * The attack then aims at the function the model computes at test time, and only the training step itself moves
 * weights or statistics. (Attacking in training mode instead would normalise with each attack step's batch statistics
 * and, with BN, push the attack's intermediate images into the running statistics once per attack step.)
 */
export function adversarialBatch(
  model: tf.LayersModel,
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
  config: AdversarialTrainingConfig,
  temperature: number,
  seed: number,
): tf.Tensor4D {
  const lossTemperature = adversarialLossTemperature(config, temperature);
  const target: AttackTarget = { logits: (x) => model.apply(x, { training: false }) as tf.Tensor2D, temperature };
  const common = { images, labels, eps: config.eps, loss: attackLoss(config.loss, lossTemperature), seed, target };
  const output =
    config.attack === 'pgd'
      ? getAttack<PgdConfig>('pgd').run({
          ...common,
          config: {
            name: 'pgd',
            loss: config.loss,
            lossTemperature,
            steps: config.steps,
            stepSize: adversarialStepSize(config),
            randomStart: true,
            restarts: 1,
            target: 'none',
          } satisfies RunConfig<PgdConfig>,
        })
      : getAttack<FgsmConfig>('fgsm').run({ ...common, config: { name: 'fgsm', loss: config.loss, lossTemperature } satisfies RunConfig<FgsmConfig> });
  // Only the images are needed; the robust and zero-gradient masks are released here.
  tf.dispose([output.robust, ...(output.zeroGradient ? [output.zeroGradient] : [])]);
  return output.adversarial;
}
