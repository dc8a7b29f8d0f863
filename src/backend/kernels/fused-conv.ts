// A fused convolution (conv + bias + ReLU or linear) that stays fused under a gradient tape. tfjs splits a ReLU conv
// into Conv2D, Add and Relu kernels whenever a tape records (two extra passes over the activation, and on a GPU two
// more launches), and its fused kernel's own gradient computes the filter gradient even when only the input's is
// wanted. This kernel is the backend's own FusedConv2D under another name, with a gradient whose parts are computed
// only when asked for. src/models/fast-layers.ts (FastConv2D) uses it.
import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD } from './relu-grad.js';
import { forwardTile, transformFilter, winogradApplies, winogradConv } from './winograd.js';
import type { WasmKernelArgs } from './wasm-compose.js';

/** The project kernel: the backend's FusedConv2D kernel under this name (inputs x, filter, bias?; FusedConv2D's attrs). */
export const FUSED_CONV = 'TemperFusedConv2D';

/** The stock kernel `stockName` of `backendName` under the project's name `kernelName`; throws if the backend has none. */
export function stockKernelAs(kernelName: string, stockName: string, backendName: string): tf.KernelConfig {
  const stock = tf.getKernel(stockName, backendName);
  if (!stock) throw new Error(`${stockName} is not registered for ${backendName}`);
  return { kernelName, backendName, kernelFunc: stock.kernelFunc };
}

/**
 * The gradient at the pre-activation of a fused kernel's output y: dy where y is positive (ReLU; y > 0 exactly where
 * the pre-activation is), dy itself (linear); `kernelName` names the kernel in the error for any other activation.
 */
export function activationGradient<T extends tf.Tensor>(kernelName: string, dy: T, y: T, activation: string | undefined): T {
  if (activation === 'linear') return dy;
  if (activation !== 'relu') throw new Error(`${kernelName}: no gradient for activation '${activation}'`);
  return tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined
    ? (tf.engine().runKernel(RELU_GRAD, { dy, x: y }) as T)
    : (tf.mul(dy, tf.cast(tf.step(y), 'float32')) as T);
}

/** FusedConv2D of `backendName` registered as FUSED_CONV; throws if the backend has none. */
export function fusedConvConfigFor(backendName: string): tf.KernelConfig {
  return stockKernelAs(FUSED_CONV, tf.FusedConv2D, backendName);
}

/**
 * FUSED_CONV on wasm: 3x3 stride-1 convolutions with enough channels (winogradApplies), linear or ReLU, as Winograd
 * F(2x2, 3x3); everything else the backend's FusedConv2D.
 */
export function makeFusedConvWasmConfig(stock: tf.KernelFunc): tf.KernelConfig {
  function fusedConv(args: WasmKernelArgs): tf.TensorInfo {
    const { inputs, backend, attrs = {} } = args;
    const { x, filter, bias, preluActivationWeights } = inputs as Record<string, tf.TensorInfo | undefined>;
    const { strides, pad, dataFormat, dilations, dimRoundingMode, activation } = attrs as unknown as tf.FusedConv2DAttrs;
    const plain = x!.dtype === 'float32' && filter!.dtype === 'float32' && x!.shape.length === 4
      && (dataFormat === undefined || dataFormat === 'NHWC') && preluActivationWeights === undefined
      && (activation === undefined || activation === 'linear' || activation === 'relu')
      && (bias === undefined || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === filter!.shape[3]));
    if (plain) {
      const info = tf.backend_util.computeConv2DInfo(
        x!.shape as [number, number, number, number], filter!.shape as [number, number, number, number],
        strides, dilations ?? 1, pad, dimRoundingMode, false, 'channelsLast');
      if (winogradApplies(info, backend) && info.padInfo.top >= 0 && info.padInfo.left >= 0) {
        const tile = forwardTile(info.batchSize, info.outHeight, info.outWidth);
        const u = transformFilter(backend, filter!, false, tile);
        const y = winogradConv(backend, x!, {
          u, tile, outShape: info.outShape as [number, number, number, number], padTop: info.padInfo.top, padLeft: info.padInfo.left,
          bias, relu: activation === 'relu',
        });
        backend.disposeData(u.dataId);
        return y;
      }
    }
    return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return { kernelName: FUSED_CONV, backendName: 'wasm', kernelFunc: fusedConv as unknown as tf.KernelFunc };
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
    const dz = activationGradient(FUSED_CONV, dy as tf.Tensor4D, y, activation);
    const common = { strides, pad, dataFormat, dimRoundingMode } as unknown as tf.NamedAttrMap;
    return {
      x: () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: dz, filter }, { ...common, inputShape: x.shape }) as tf.Tensor,
      filter: () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy: dz }, { ...common, filterShape: filter.shape }) as tf.Tensor,
      bias: () => tf.sum(dz, [0, 1, 2]),
    };
  },
};
