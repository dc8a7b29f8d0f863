// A fused convolution (conv + bias + ReLU or linear) that stays fused under a gradient tape. tfjs splits a ReLU conv
// into Conv2D, Add and Relu kernels whenever a tape records (two extra passes over the activation, and on a GPU two
// more launches), and its fused kernel's own gradient computes the filter gradient even when only the input's is
// wanted. This kernel is the backend's own FusedConv2D under another name, with a gradient whose parts are computed
// only when asked for. src/models/fast-layers.ts (FastConv2D) uses it.
import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD } from './relu-grad.js';

/** The project kernel: the backend's FusedConv2D kernel under this name (inputs x, filter, bias?; FusedConv2D's attrs). */
export const FUSED_CONV = 'TemperFusedConv2D';

/** FusedConv2D of `backendName` registered as FUSED_CONV; throws if the backend has none. */
export function fusedConvConfigFor(backendName: string): tf.KernelConfig {
  const stock = tf.getKernel(tf.FusedConv2D, backendName);
  if (!stock) throw new Error(`${tf.FusedConv2D} is not registered for ${backendName}`);
  return { kernelName: FUSED_CONV, backendName, kernelFunc: stock.kernelFunc };
}

/**
 * dz = dy where the output y is positive (ReLU; y > 0 exactly where the pre-activation is), else dy itself (linear);
 * then dx, dfilter and dbias from dz, each only when the tape asks for it.
 */
export const fusedConvGradConfig: tf.GradConfig = {
  kernelName: FUSED_CONV,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const { strides, pad, dataFormat, dimRoundingMode, activation } = attrs as unknown as tf.FusedConv2DAttrs;
    const grad = dy as tf.Tensor4D;
    let dz = grad;
    if (activation === 'relu') {
      dz = tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined
        ? (tf.engine().runKernel(RELU_GRAD, { dy: grad, x: y }) as tf.Tensor4D)
        : tf.mul(grad, tf.cast(tf.step(y), 'float32'));
    } else if (activation !== 'linear') {
      throw new Error(`${FUSED_CONV}: no gradient for activation '${activation}'`);
    }
    const common = { strides, pad, dataFormat, dimRoundingMode } as unknown as tf.NamedAttrMap;
    return {
      x: () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: dz, filter }, { ...common, inputShape: x.shape }) as tf.Tensor,
      filter: () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy: dz }, { ...common, filterShape: filter.shape }) as tf.Tensor,
      bias: () => tf.sum(dz, [0, 1, 2]),
    };
  },
};
