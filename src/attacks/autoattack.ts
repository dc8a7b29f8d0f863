// AutoAttack-style ensemble: Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
// parameter-free attacks", ICML 2020, arXiv 2003.01690. The attacks run one after another, each only on the examples
// that survived all earlier ones; an example counts as robust only if it survives every attack (worst case per example).
import * as tf from '@tensorflow/tfjs';
import type { AutoattackConfig, InnerAttackConfig } from '../config/schema.js';
import { innerAttackSchema } from '../config/schema.js';
import { attackLossOf, attackName } from '../config/grid.js';
import { disposeOutput, type AttackSpec } from './attack.js';
import { attackLoss } from './losses.js';
import { getAttack, registerAttack } from './registry.js';

/**
 * The default ensemble: APGD-CE, APGD-T (DLR, one random target class) and Square. The original also runs FAB-T and uses
 * 9 target classes and 5,000 Square queries; this lighter default fits a CPU, and `attacks` lists any other ensemble.
 */
export const DEFAULT_ENSEMBLE: InnerAttackConfig[] = [
  innerAttackSchema.parse({ name: 'apgd', loss: 'ce', steps: 100 }),
  innerAttackSchema.parse({ name: 'apgd', loss: 'dlr', steps: 100, target: 'random' }),
  innerAttackSchema.parse({ name: 'square', queries: 1000 }),
];

export function ensembleOf(config: Omit<AutoattackConfig, 'eps'>): InnerAttackConfig[] {
  return config.attacks ?? DEFAULT_ENSEMBLE;
}

export const autoattack: AttackSpec<AutoattackConfig> = {
  name: 'autoattack',
  description: 'AutoAttack-style ensemble, worst case per example: APGD-CE, APGD-T (DLR) and Square by default (Croce & Hein, ICML 2020)',
  norm: 'linf',
  access: 'ensemble',
  iterative: true,
  params: (config) => ({ attacks: ensembleOf(config).map(attackName).join(' + ') }),
  run({ target, images, labels, eps, config, seed }) {
    const n = labels.shape[0];
    const robust = new Float32Array(n).fill(1);
    let adversarial = tf.clone(images);
    let zeroGradient: tf.Tensor1D | null = null;
    for (const [i, inner] of ensembleOf(config).entries()) {
      // One small read per attack: which examples are still standing, so the next attack only runs on those.
      const standing = [...robust.keys()].filter((k) => robust[k] === 1);
      if (standing.length === 0) break;
      const spec = getAttack(inner.name);
      const { loss, lossTemperature } = attackLossOf(inner);
      const resolved = attackLoss(loss === '' ? 'cw' : loss, lossTemperature === 'train' ? target.temperature : (lossTemperature ?? 1));
      const index = tf.tensor1d(standing, 'int32');
      const subset = tf.gather(images, index) as tf.Tensor4D;
      const subsetLabels = tf.gather(labels, index) as tf.Tensor1D;
      const output = spec.run({ target, images: subset, labels: subsetLabels, eps, loss: resolved, config: inner as never, seed: seed + 1009 * i });
      const survived = output.robust.dataSync();
      // The first attack sees every example, so its zero-gradient mask describes the whole batch.
      if (zeroGradient === null && output.zeroGradient && standing.length === n) zeroGradient = tf.clone(output.zeroGradient);
      const next = tf.tidy(() => {
        const fooled = tf.sub(1, output.robust);
        const scattered = tf.scatterND(tf.reshape(index, [-1, 1]), output.adversarial, adversarial.shape);
        const mask = tf.reshape(tf.scatterND(tf.reshape(index, [-1, 1]), fooled, [n]), [-1, 1, 1, 1]);
        return tf.add(tf.mul(mask, scattered), tf.mul(tf.sub(1, mask), adversarial)) as tf.Tensor4D;
      });
      adversarial.dispose();
      adversarial = next;
      standing.forEach((k, j) => {
        if (survived[j] === 0) robust[k] = 0;
      });
      disposeOutput(output);
      tf.dispose([index, subset, subsetLabels]);
    }
    return { adversarial, robust: tf.tensor1d(robust), zeroGradient };
  },
};

registerAttack(autoattack);
