// Seeded initialisers: layer i of a model built with seed s always starts from the same weights.
import * as tf from '@tensorflow/tfjs';
import { intSeed } from '../util/rng.js';

export function seededInitializers(seed: number, model: string) {
  let layer = 0;
  return () => {
    layer += 1;
    return { kernelInitializer: tf.initializers.glorotUniform({ seed: intSeed(model, seed, layer) }), biasInitializer: 'zeros' as const };
  };
}
