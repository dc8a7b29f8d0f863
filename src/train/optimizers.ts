// Optimisers by name: adam, and sgd with momentum (plain sgd when momentum is 0).
import * as tf from '@tensorflow/tfjs';
import type { OptimizerConfig } from '../config/schema.js';

export function createOptimizer(config: OptimizerConfig): tf.Optimizer {
  switch (config.name) {
    case 'adam':
      return tf.train.adam(config.lr);
    case 'sgd':
      return config.momentum > 0 ? tf.train.momentum(config.lr, config.momentum) : tf.train.sgd(config.lr);
  }
}

/** Frees the optimiser's state. */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  // tfjs 4.22: MomentumOptimizer.dispose() overrides SGD's without freeing its learning-rate scalar `c`.
  const learningRate = (optimizer as unknown as { c?: tf.Tensor }).c;
  if (optimizer instanceof tf.MomentumOptimizer && learningRate && !learningRate.isDisposed) learningRate.dispose();
}
