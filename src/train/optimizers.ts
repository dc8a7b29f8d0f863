// Optimisers by name: adam (tfjs's, with a one-kernel update per variable where the backend has it), and sgd with (Nesterov) momentum (plain sgd when momentum is 0).
import * as tf from '@tensorflow/tfjs';
import type { OptimizerConfig } from '../config/schema.js';
import { FusedAdamOptimizer } from './fused-adam.js';

export function createOptimizer(config: OptimizerConfig): tf.Optimizer {
  switch (config.name) {
    case 'adam':
      return new FusedAdamOptimizer(config.lr, 0.9, 0.999);
    case 'sgd':
      return config.momentum > 0 ? tf.train.momentum(config.lr, config.momentum, config.nesterov) : tf.train.sgd(config.lr);
  }
}

/** Sets the step size of the next `minimize`; a no-op when it is unchanged, so a constant schedule allocates nothing. */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  const current = optimizer as unknown as { learningRate: number; setLearningRate?: (learningRate: number) => void };
  if (current.learningRate === learningRate) return;
  // tfjs 4.22: SGD and Momentum step with a kept scalar `c = -lr` that setLearningRate swaps; Adam reads the number.
  // Probed, not `instanceof`: tf.Optimizer's Symbol.hasInstance duck-types, so Adam is an `instanceof tf.SGDOptimizer`.
  if (typeof current.setLearningRate === 'function') current.setLearningRate(learningRate);
  else current.learningRate = learningRate;
}

/** Frees the optimiser's state. */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  // tfjs 4.22: MomentumOptimizer.dispose() overrides SGD's without freeing its learning-rate scalar `c`.
  const learningRate = (optimizer as unknown as { c?: tf.Tensor }).c;
  if (learningRate && !learningRate.isDisposed) learningRate.dispose();
}
