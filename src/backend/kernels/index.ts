// Project kernels that make training and input gradients fast on tfjs-wasm and tfjs-webgpu; see /work/shared/PERF.md.
import * as tf from '@tensorflow/tfjs';
import { ADAM_UPDATE, adamUpdateWasmConfig } from './adam.js';
import { adamUpdateWebGPUConfig } from './adam-webgpu.js';
import { makeBatchMatMulConfig } from './batch-mat-mul.js';
import { makeFusedBatchNormConfig } from './batch-norm.js';
import {
  BATCH_MOMENTS, BATCH_NORM_GRAD_INPUT, BATCH_NORM_GRAD_SUMS, batchMomentsWasmConfig, batchNormGradInputWasmConfig, batchNormGradSumsWasmConfig,
} from './batch-norm-training.js';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { makeWebGPUConv2DBackpropFilterConfig } from './conv2d-backprop-filter-webgpu.js';
import { makeConv2DBackpropInputConfig } from './conv2d-backprop-input.js';
import { makeCastConfig, makeIdentityConfig } from './identity.js';
import { FUSED_CONV, fusedConvConfigFor, fusedConvGradConfig, makeFusedConvWasmConfig } from './fused-conv.js';
import { FUSED_MAT_MUL, fusedMatMulConfigFor, fusedMatMulGradConfig, makeFusedMatMulWasmConfig } from './fused-mat-mul.js';
import { makeMaxPoolConfig, makeMaxPoolGradConfig, MAX_POOL_GRAD_RELU, maxPoolGradConfig, maxPoolGradReluWasmConfig } from './max-pool-grad.js';
import { RELU_GRAD, reluGradConfig, reluGradWasmConfig } from './relu-grad.js';
import { BINARY_KERNELS, makeBinaryConfig, makeSmallArithmeticConfig, makeSmallReluConfig, SMALL_ARITHMETIC_KERNELS } from './elementwise.js';
import { makeSumConfig } from './sum.js';
import { makeSliceConfig } from './slice.js';
import { LINF_STEP, linfStepWasmConfig } from './linf-step.js';
import { installEarlyRelease } from '../early-release.js';

/** Builds a kernel config given the stock kernel it replaces (undefined where the backend has none). */
type KernelFactory = (stock: tf.KernelFunc | undefined) => tf.KernelConfig;

function requireStock(kernelName: string, backendName: string, make: (stock: tf.KernelFunc) => tf.KernelConfig): KernelFactory {
  return (stock) => {
    if (stock === undefined) {
      throw new Error(`${kernelName} is not registered for ${backendName}; call registerProjectKernels after tf.setBackend('${backendName}') resolved`);
    }
    return make(stock);
  };
}

const KERNELS_BY_BACKEND: Record<string, Record<string, KernelFactory>> = {
  wasm: {
    [tf.Conv2DBackpropFilter]: () => conv2DBackpropFilterConfig,
    [tf.Conv2DBackpropInput]: requireStock(tf.Conv2DBackpropInput, 'wasm', makeConv2DBackpropInputConfig),
    [tf.MaxPool]: requireStock(tf.MaxPool, 'wasm', makeMaxPoolConfig),
    [tf.MaxPoolGrad]: requireStock(tf.MaxPoolGrad, 'wasm', makeMaxPoolGradConfig),
    // Not a stock name: MaxPoolGrad with the ReLU gradient of its input fused in (maxPoolGradConfig picks it).
    [MAX_POOL_GRAD_RELU]: () => maxPoolGradReluWasmConfig,
    [tf.BatchMatMul]: requireStock(tf.BatchMatMul, 'wasm', makeBatchMatMulConfig),
    [tf.Sum]: requireStock(tf.Sum, 'wasm', makeSumConfig),
    [tf.Slice]: requireStock(tf.Slice, 'wasm', makeSliceConfig),
    [tf.FusedBatchNorm]: requireStock(tf.FusedBatchNorm, 'wasm', makeFusedBatchNormConfig),
    [tf.Identity]: requireStock(tf.Identity, 'wasm', makeIdentityConfig),
    [tf.Cast]: requireStock(tf.Cast, 'wasm', makeCastConfig),
    ...Object.fromEntries(BINARY_KERNELS.map((name) => [name, requireStock(name, 'wasm', (stock) => makeBinaryConfig(name, stock))])),
    ...Object.fromEntries(SMALL_ARITHMETIC_KERNELS.map((name) => [name, requireStock(name, 'wasm', (stock) => makeSmallArithmeticConfig(name, stock))])),
    [tf.Relu]: requireStock(tf.Relu, 'wasm', makeSmallReluConfig),
    [RELU_GRAD]: () => reluGradWasmConfig,
    [ADAM_UPDATE]: () => adamUpdateWasmConfig,
    [LINF_STEP]: () => linfStepWasmConfig,
    [BATCH_MOMENTS]: () => batchMomentsWasmConfig,
    [BATCH_NORM_GRAD_SUMS]: () => batchNormGradSumsWasmConfig,
    [BATCH_NORM_GRAD_INPUT]: () => batchNormGradInputWasmConfig,
    // Not a stock name: the stock FusedConv2D is its fallback (Winograd takes 3x3 stride-1 convolutions with enough channels).
    [FUSED_CONV]: () => makeFusedConvWasmConfig(fusedConvConfigFor('wasm').kernelFunc),
    // Before _FusedMatMul is replaced: the stock kernel is each one's fallback.
    [FUSED_MAT_MUL]: () => makeFusedMatMulWasmConfig(FUSED_MAT_MUL, fusedMatMulConfigFor('wasm').kernelFunc),
    [tf._FusedMatMul]: requireStock(tf._FusedMatMul, 'wasm', (stock) => makeFusedMatMulWasmConfig(tf._FusedMatMul, stock)),
  },
  // The filter gradient, the Adam update and the tape-proof fused conv and product: the wasm kernels above work on the wasm heap, and the stock webgpu input gradient
  // (a matrix-product program), max-pool gradient, Identity and Sum already run on the GPU without a host copy.
  webgpu: {
    [tf.Conv2DBackpropFilter]: requireStock(tf.Conv2DBackpropFilter, 'webgpu', (stock) => makeWebGPUConv2DBackpropFilterConfig(stock)),
    [ADAM_UPDATE]: () => adamUpdateWebGPUConfig,
    [FUSED_CONV]: () => fusedConvConfigFor('webgpu'),
    [FUSED_MAT_MUL]: () => fusedMatMulConfigFor('webgpu'),
  },
};

const registered = new Map<string, string[]>();

/**
 * Registers this project's kernels for `backendName` ('wasm' and 'webgpu' have some) and returns their names.
 * Call it after `await tf.setBackend(backendName)` resolved: the replaced stock kernels are captured and
 * used as fallbacks, and they only work once the backend ran their setup. Calling it again returns the
 * same names and registers nothing. With TEMPER_STOCK_KERNELS=1 it registers nothing and returns [],
 * so stock tfjs can be measured.
 */
export function registerProjectKernels(backendName: string): string[] {
  if (process.env['TEMPER_STOCK_KERNELS'] === '1') return [];
  // Not a kernel, but the same switch: backward passes free saved tensors and gradients as soon as they are read.
  installEarlyRelease();
  const done = registered.get(backendName);
  if (done !== undefined) return [...done];
  const factories = KERNELS_BY_BACKEND[backendName] ?? {};
  const names: string[] = [];
  for (const [kernelName, make] of Object.entries(factories)) {
    const stock = tf.getKernel(kernelName, backendName);
    const config = make(stock?.kernelFunc);
    // registerKernel throws on a name that is taken, so the stock kernel goes first; its setup keeps running on backend re-init.
    if (stock !== undefined) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ ...config, setupFunc: stock?.setupFunc });
    names.push(kernelName);
  }
  // Kernels of the project's own (not tfjs') names need their gradient pointed at them; gradients are global.
  if (names.includes(RELU_GRAD)) tf.registerGradient(reluGradConfig);
  if (names.includes(FUSED_CONV)) tf.registerGradient(fusedConvGradConfig);
  if (names.includes(FUSED_MAT_MUL)) tf.registerGradient(fusedMatMulGradConfig);
  // MaxPool is a stock name: its gradient falls back to tfjs' own wherever MAX_POOL_GRAD_RELU is not registered.
  if (names.includes(MAX_POOL_GRAD_RELU)) tf.registerGradient(maxPoolGradConfig);
  registered.set(backendName, names);
  return [...names];
}
