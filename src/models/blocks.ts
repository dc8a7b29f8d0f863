// Layers the convolutional architectures share, with PyTorch's defaults so runs compare with the papers' code.
import * as tf from '@tensorflow/tfjs';
import type { SeededInitializers } from './init.js';
import { FastBatchNormalization, FastConv2D, FastDense } from './fast-layers.js';

type Tensor = tf.SymbolicTensor;

/**
 * A k x k convolution without bias ('same' padding; stride 2 halves the map, rounding up). tfjs' Conv2D, except that
 * under a gradient tape it computes only the gradients asked for (FastConv2D, ./fast-layers.ts).
 */
export function conv(init: SeededInitializers, x: Tensor, filters: number, kernelSize: number, strides = 1): Tensor {
  return new FastConv2D({ filters, kernelSize, strides, padding: 'same', ...init.conv() }).apply(x) as Tensor;
}

/**
 * PyTorch's BatchNorm2d: momentum 0.1 there is 0.9 here (tfjs keeps the old share), epsilon 1e-5. tfjs'
 * BatchNormalization with a fused training-mode pass and closed-form gradient (FastBatchNormalization).
 */
export function batchNorm(x: Tensor): Tensor {
  return new FastBatchNormalization({ momentum: 0.9, epsilon: 1e-5 }).apply(x) as Tensor;
}

export function relu(x: Tensor): Tensor {
  return tf.layers.reLU().apply(x) as Tensor;
}

export function add(a: Tensor, b: Tensor): Tensor {
  return tf.layers.add().apply([a, b]) as Tensor;
}

/** Global average pooling then a linear layer: the head reads `channels` features at any input size. */
export function poolAndClassify(init: SeededInitializers, x: Tensor, numClasses: number): Tensor {
  const pooled = tf.layers.globalAveragePooling2d({}).apply(x) as Tensor;
  return new FastDense({ units: numClasses, ...init() }).apply(pooled) as Tensor;
}

/**
 * The pre-activation residual unit of He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016
 * (fig. 4e): BN-ReLU-conv3x3-BN-ReLU-conv3x3 plus the input; where the shape changes, a 1x1 conv of the
 * pre-activated input is the shortcut. Wide ResNets use the same unit (Zagoruyko & Komodakis 2016).
 */
export function preActBlock(init: SeededInitializers, x: Tensor, filters: number, strides: number): Tensor {
  const pre = relu(batchNorm(x));
  const projected = strides !== 1 || x.shape.at(-1) !== filters;
  const residual = conv(init, relu(batchNorm(conv(init, pre, filters, 3, strides))), filters, 3);
  return add(residual, projected ? conv(init, pre, filters, 1, strides) : x);
}
