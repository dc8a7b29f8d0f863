// Seeded initialisers: layer i of a model built with seed s always starts from the same weights.
import * as tf from '@tensorflow/tfjs';
import { intSeed } from '../util/rng.js';

export type Initializer = ReturnType<typeof tf.initializers.glorotUniform>;

export interface SeededInitializers {
  /** Glorot-uniform kernel and zero bias for the next dense or conv layer. */
  (): { kernelInitializer: Initializer; biasInitializer: 'zeros' };
  /** He-normal kernel (He et al., ICCV 2015) and no bias: every conv of the BN nets feeds a batch norm, whose shift is the bias. */
  conv(): { kernelInitializer: Initializer; useBias: false };
  /** The next layer's seed, for custom layers that build their own initialisers from it. */
  seed(): number;
}

export function seededInitializers(seed: number, model: string): SeededInitializers {
  let layer = 0;
  const next = () => intSeed(model, seed, ++layer);
  const glorot = () => ({ kernelInitializer: tf.initializers.glorotUniform({ seed: next() }), biasInitializer: 'zeros' as const });
  return Object.assign(glorot, {
    conv: () => ({ kernelInitializer: tf.initializers.heNormal({ seed: next() }), useBias: false as const }),
    seed: next,
  });
}
