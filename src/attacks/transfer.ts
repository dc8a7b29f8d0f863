// Transfer attack: Papernot, McDaniel, Goodfellow, "Transferability in Machine Learning: from Phenomena to Black-Box
// Attacks using Adversarial Samples", arXiv 1605.07277 (2016). The adversarial images are crafted by a white-box attack
// on a surrogate model (another model of the same sweep) and then shown to the attacked model. The attacked model's
// gradients are never used, so a model that only masks its own gradients is not protected by it.
import type { TransferConfig } from '../config/schema.js';
import * as tf from '@tensorflow/tfjs';
import { correctMask, FORWARD_COST, type AttackSpec } from './attack.js';
import { attackLoss } from './losses.js';
import { attackLossOf } from '../config/grid.js';
import { getAttack, registerAttack } from './registry.js';

export const transfer: AttackSpec<TransferConfig> = {
  name: 'transfer',
  description: 'Transfer attack: a white-box attack crafted on another model of the sweep, shown to this one (Papernot et al., 2016)',
  norm: 'linf',
  access: 'transfer',
  iterative: false,
  params: (config) => ({
    source: `${config.source.architecture}@T=${config.source.temperature}`,
    via: config.attack.name,
    ...getAttack(config.attack.name).params(config.attack as never),
  }),
  // The inner attack on the surrogate (counted in the surrogate's forward passes), then one check on this model.
  cost: (config, context) => getAttack(config.attack.name).cost(config.attack as never, context) + FORWARD_COST,
  run({ target, surrogate, images, labels, eps, config, seed }) {
    if (!surrogate) throw new Error('transfer: no surrogate model was provided');
    const inner = getAttack(config.attack.name);
    const { loss, lossTemperature } = attackLossOf(config.attack);
    // "train" means the surrogate's own temperature: the attack is tuned to the model it actually differentiates.
    const temperature = lossTemperature === 'train' ? surrogate.temperature : (lossTemperature ?? 1);
    const crafted = inner.run({ target: surrogate, images, labels, eps, loss: attackLoss(loss === '' ? 'cw' : loss, temperature), config: config.attack as never, seed });
    // Its robust and zero-gradient masks describe the surrogate, not this model.
    tf.dispose([crafted.robust, ...(crafted.zeroGradient ? [crafted.zeroGradient] : [])]);
    return { adversarial: crafted.adversarial, robust: correctMask(target, crafted.adversarial, labels), zeroGradient: null };
  },
};

registerAttack(transfer);
