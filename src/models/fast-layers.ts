// Drop-in replacements for tfjs-layers' BatchNormalization and Conv2D that do less work under a gradient tape.
// Both keep the stock class name, configuration and weights (names and order), so checkpoints written with either
// load into either; importing this module registers them in place of the stock classes for deserialisation.
//
// - FastBatchNormalization: in training mode the stock layer is moments() + batchNorm() differentiated op by op:
//   about 84 kernels per layer and step (forward and backward), some 30 of them passes over the whole activation,
//   one a full-size Tile. Here it is one tf.customGrad: 4 full-size passes forward, the closed-form gradient with
//   7 backward, about 34 kernels in all; on wasm (float32, channels a multiple of 4) the statistics and the gradient
//   are the project's kernels (src/backend/kernels/batch-norm-training.ts): 3 passes forward with the normalisation,
//   3 backward. Inference mode runs the stock forward ops (bit for bit); under a tape
//   they are one tape node whose input gradient is dy * gamma / sqrt(movingVariance + eps) (batchNormInference):
//   tfjs-core's FusedBatchNorm gradient builds a full-size Tile and computes x - mean and dy * gamma even when only
//   dx is wanted (a PGD step). Gradients w.r.t. gamma, beta and the moving statistics are tfjs-core's own.
// - FastConv2D: tfjs-core keeps a linear conv fused under a tape (fused_util shouldFuse), and the fused op's custom
//   gradient always computes the input, filter and bias gradients. Under a tape this layer runs conv2d, bias add and
//   activation as separate ops, whose registered gradients are evaluated lazily: an input gradient (an attack step)
//   computes no filter gradient, and a training step computes no input gradient for the first convolution.
// With TEMPER_STOCK_KERNELS=1 (read at every call) both layers run the stock tfjs-layers code, as the project's kernels
// then register nothing: stock tfjs numbers to compare against.
import * as tf from '@tensorflow/tfjs';
import { FUSED_CONV } from '../backend/kernels/fused-conv.js';
import { FUSED_MAT_MUL } from '../backend/kernels/fused-mat-mul.js';
import { BATCH_MOMENTS, BATCH_NORM_GRAD_INPUT, BATCH_NORM_GRAD_SUMS, takesBatchNormShape } from '../backend/kernels/batch-norm-training.js';

type Kwargs = Parameters<tf.layers.Layer['call']>[1];
type LayerStatics = Pick<typeof tf.layers.Layer, 'fromConfig'>;

type StockBatchNormalization = ReturnType<typeof tf.layers.batchNormalization>;
export type BatchNormalizationArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;
type StockConv2D = ReturnType<typeof tf.layers.conv2d>;
export type Conv2DArgs = Parameters<typeof tf.layers.conv2d>[0];

// The stock classes, as tf.layers builds them (tfjs does not export them). An explicit name takes no layer uid, so
// the automatic names of the model's layers (batch_normalization_1, ...) are the same as without this module.
const StockBatchNormalization = Object.getPrototypeOf(tf.layers.batchNormalization({ name: 'temper_probe' })).constructor as LayerStatics &
  (new (args?: BatchNormalizationArgs) => StockBatchNormalization);
const StockConv2D = Object.getPrototypeOf(tf.layers.conv2d({ name: 'temper_probe', filters: 1, kernelSize: 1 })).constructor as LayerStatics &
  (new (args: Conv2DArgs) => StockConv2D);

/** The stock layer's private state this subclass reads (tfjs-layers 4.22, layers/normalization.ts). */
interface BatchNormalizationState {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma?: tf.LayerVariable;
  beta?: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

/** TEMPER_STOCK_KERNELS=1: the stock tfjs-layers code in these layers too (see src/backend/kernels/index.ts). */
function stockRequested(): boolean {
  return process.env['TEMPER_STOCK_KERNELS'] === '1';
}

function singleTensor(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (!Array.isArray(inputs)) return inputs;
  if (inputs.length !== 1) throw new Error(`expected one input tensor, got ${inputs.length}`);
  return inputs[0]!;
}

/**
 * The internal of tfjs-core's Engine (4.22, engine.ts; private in its typings) that tf.customGrad is a thin wrapper
 * of. tf.customGrad calls the user's gradFunc eagerly and so computes the gradient of every input, used or not;
 * runKernelFunc takes the per-input gradient thunks that registered gradients use, and the tape then calls only the
 * ones on the path to the requested xs (tape.ts backpropagateGradients).
 */
interface KernelFuncEngine {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: tf.GradSaveFunc) => tf.Tensor;
    backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => Record<string, () => tf.Tensor>;
    inputs: Record<string, tf.Tensor>;
  }): tf.Tensor;
}

function kernelFuncEngine(): KernelFuncEngine | null {
  const engine = tf.engine() as unknown as Partial<KernelFuncEngine>;
  return typeof engine.runKernelFunc === 'function' ? (engine as KernelFuncEngine) : null;
}

/**
 * Batch normalisation over every axis but the last with batch statistics, as one differentiable op.
 * Forward: mean and biased variance per channel, y = gamma * (x - mean) / sqrt(var + eps) + beta.
 * Backward (M elements per channel, xhat = (x - mean) / sqrt(var + eps), a = gamma / sqrt(var + eps)):
 * dbeta = sum(dy), dgamma = sum(dy * xhat), dx = a * dy - (a / M) * (dbeta + xhat * dgamma).
 * `gamma` or `beta` null: the layer has no scale or no centre (1 and 0), and no gradient is returned for it.
 * `onStatistics` receives the batch mean and variance inside the op (tensors freed when it returns).
 * The backward pass keeps only per-channel tensors between its parts: dbeta and dgamma are summed in a tidy, and dx
 * is computed in the tape's tidy of its own, so no full-size temporary outlives the node (tf.customGrad computes every
 * gradient where the tape does not tidy, and they stay allocated until the whole backward pass ends).
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor | null,
  beta: tf.Tensor | null,
  epsilon: number,
  onStatistics: (mean: tf.Tensor1D, variance: tf.Tensor1D) => void,
): tf.Tensor {
  const rank = x.rank;
  const axes = Array.from({ length: rank - 1 }, (_, i) => i);
  const count = x.size / x.shape[rank - 1]!;
  // On wasm the statistics and the gradient are the project's one- and two-pass kernels (batch-norm-training.ts).
  const kernels = takesBatchNormShape(x.shape, x.dtype) && tf.getKernel(BATCH_MOMENTS, tf.getBackend()) !== undefined;
  const engineKernel = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, number> = {}) =>
    tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap);
  const moments = (input: tf.Tensor): [tf.Tensor1D, tf.Tensor1D] => {
    if (kernels) return engineKernel(BATCH_MOMENTS, { x: input }) as unknown as [tf.Tensor1D, tf.Tensor1D];
    // Sums, not tf.mean: wasm's Mean transposes a channels-last tensor first, and the project's wasm Sum does not.
    const mean = tf.mul(tf.sum(input, axes), 1 / count) as tf.Tensor1D;
    return [mean, tf.mul(tf.sum(tf.squaredDifference(input, mean), axes), 1 / count) as tf.Tensor1D];
  };
  const forward = (input: tf.Tensor, scale: tf.Tensor | null, offset: tf.Tensor | null, save: tf.GradSaveFunc): tf.Tensor => {
    const [mean, variance] = moments(input);
    onStatistics(mean, variance);
    save(scale ? [input, mean, variance, scale] : [input, mean, variance]);
    return tf.batchNorm(input, mean, variance, offset ?? undefined, scale ?? undefined, epsilon);
  };
  /** The gradient of each input, as thunks; the per-channel sums they share are computed once, here. */
  const backward = (dy: tf.Tensor, saved: tf.Tensor[]): Record<'x' | 'gamma' | 'beta', () => tf.Tensor> => {
    const [savedX, savedMean, savedVariance, savedScale] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D?];
    if (kernels) {
      const statistics = { x: savedX, mean: savedMean, variance: savedVariance };
      const [dbeta, dgamma] = engineKernel(BATCH_NORM_GRAD_SUMS, { dy, ...statistics }, { varianceEpsilon: epsilon }) as unknown as tf.Tensor[];
      return {
        x: () => engineKernel(BATCH_NORM_GRAD_INPUT, { dy, ...statistics, dbeta: dbeta!, dgamma: dgamma!, ...(savedScale ? { scale: savedScale } : {}) },
          { varianceEpsilon: epsilon }) as tf.Tensor,
        gamma: () => dgamma!,
        beta: () => dbeta!,
      };
    }
    const [dBeta, dGamma] = tf.tidy(() => {
      const normalized = tf.batchNorm(savedX, savedMean, savedVariance, undefined, undefined, epsilon);
      return [tf.sum(dy, axes), tf.sum(tf.mul(dy, normalized), axes)];
    });
    return {
      x: () => {
        const inverseStd = tf.rsqrt(tf.add(savedVariance, epsilon));
        const a = savedScale ? tf.mul(savedScale, inverseStd) : inverseStd;
        const minusAOverCount = tf.mul(a, -1 / count);
        // -(a / M) * (dbeta + xhat * dgamma) is one more batchNorm of x: offset -(a / M) dbeta, scale -(a / M) dgamma.
        const correction = tf.batchNorm(savedX, savedMean, savedVariance, tf.mul(minusAOverCount, dBeta), tf.mul(minusAOverCount, dGamma), epsilon);
        return tf.add(tf.mul(dy, a), correction);
      },
      gamma: () => dGamma,
      beta: () => dBeta,
    };
  };
  const engine = kernelFuncEngine();
  if (engine !== null) {
    const inputs: Record<string, tf.Tensor> = { x, ...(gamma ? { gamma } : {}), ...(beta ? { beta } : {}) };
    // A named scope: the tape node and a tf.profile entry take its name.
    return tf.tidy('FastBatchNormTraining', () =>
      engine.runKernelFunc({ inputs, forwardFunc: (_backend, save) => forward(x, gamma, beta, save), backwardsFunc: backward }),
    );
  }
  // Another tfjs than 4.22: tf.customGrad, every gradient computed at once.
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input, scale, offset] = [args[0] as tf.Tensor, gamma ? (args[1] as tf.Tensor) : null, beta ? (args[gamma ? 2 : 1] as tf.Tensor) : null];
    const value = forward(input, scale, offset, save);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const grads = backward(dy, saved);
      return [grads.x(), ...(gamma ? [grads.gamma()] : []), ...(beta ? [grads.beta()] : [])];
    };
    return { value, gradFunc };
  });
  return op(...[x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])]);
}

/** The 4-D shape tfjs-core's batchNorm gives its FusedBatchNorm kernel (batchnorm_util.ts xAs4D), ranks 2 to 4. */
function shapeAs4D(shape: number[]): [number, number, number, number] {
  const padded = [1, 1, 1, ...shape].slice(-4);
  return padded as [number, number, number, number];
}

/**
 * Inference-mode batch normalisation, y = gamma * (x - mean) / sqrt(variance + eps) + beta over the last axis, with
 * the stock layer's forward ops (tfjs-layers batchNormalization: tf.batchNorm2d/3d/4d, so the output is bit-identical
 * to the stock layer's) as one tape node. Its gradients, each computed only when the tape asks for it:
 * - x: dy * a with a = gamma / sqrt(variance + eps) per channel (one full-size pass; the stock gradient tiles
 *   1 / sqrt(variance + eps) to the full size and also computes x - mean and dy * gamma);
 * - mean, variance, gamma, beta: tfjs-core's FusedBatchNorm gradient itself, on the same 4-D tensors as stock.
 * Without gamma (scale: false) this works under a tape, where the stock layer fails in tfjs 4.22 (the engine clones
 * the missing scale it saves for FusedBatchNorm's gradient).
 * Returns null where the engine has no runKernelFunc (a tfjs other than 4.22): the caller then runs the stock code.
 */
export function batchNormInference(
  x: tf.Tensor,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  gamma: tf.Tensor1D | null,
  beta: tf.Tensor1D | null,
  epsilon: number,
): tf.Tensor | null {
  const engine = kernelFuncEngine();
  const stockGradient = tf.getGradient(tf.FusedBatchNorm);
  if (engine === null || stockGradient == null || x.rank < 2 || x.rank > 4) return null;
  const inputs: Record<string, tf.Tensor> = { x, mean, variance, ...(gamma ? { scale: gamma } : {}), ...(beta ? { offset: beta } : {}) };
  const shape4D = shapeAs4D(x.shape);
  // A named scope: the tape node and a tf.profile entry take its name (no gradient is registered under it).
  return tf.tidy('FastBatchNormInference', () =>
    engine.runKernelFunc({
      inputs,
      forwardFunc: (_backend, save) => {
        save(gamma ? [x, mean, variance, gamma] : [x, mean, variance]);
        const [offset, scale] = [beta ?? undefined, gamma ?? undefined];
        if (x.rank === 2) return tf.batchNorm2d(x as tf.Tensor2D, mean, variance, offset, scale, epsilon);
        if (x.rank === 3) return tf.batchNorm3d(x as tf.Tensor3D, mean, variance, offset, scale, epsilon);
        return tf.batchNorm4d(x as tf.Tensor4D, mean, variance, offset, scale, epsilon);
      },
      backwardsFunc: (dy, saved) => {
        const [savedX, savedMean, savedVariance, savedScale] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D?];
        const grads: Record<string, () => tf.Tensor> = {
          x: () => {
            const inverseStd = tf.rsqrt(tf.add(savedVariance, epsilon));
            return tf.mul(dy, savedScale ? tf.mul(savedScale, inverseStd) : inverseStd);
          },
        };
        // Each thunk runs in its own tidy (the tape's), so the stock gradient's shared terms are not kept between them.
        const stock = (name: string) => () =>
          stockGradient.gradFunc(tf.reshape(dy, shape4D), [tf.reshape(savedX, shape4D), savedMean, savedVariance, savedScale] as tf.Tensor[], {
            varianceEpsilon: epsilon,
          })[name]!() as tf.Tensor;
        for (const name of Object.keys(inputs)) if (name !== 'x') grads[name] = stock(name);
        return grads;
      },
    }),
  );
}

/**
 * tfjs-layers' BatchNormalization with a fused training-mode forward and backward pass (batchNormTraining).
 * Same arguments, configuration, weights and moving-average update as the stock layer: every training-mode call
 * sets moving = moving - (moving - batch) * (1 - momentum), with the batch's biased variance, as tfjs-layers does.
 * Unlike the stock layer (which fails on a missing gamma or beta in training mode), scale: false and center: false
 * train, with gamma 1 and beta 0. Inference mode under a gradient tape is batchNormInference (the stock forward ops,
 * a cheap input gradient); inference outside a tape, an axis other than the last, and TEMPER_STOCK_KERNELS=1 run the
 * stock code.
 */
export class FastBatchNormalization extends StockBatchNormalization {
  static className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const x = singleTensor(inputs);
    const state = this as unknown as BatchNormalizationState;
    const axis = state.axis >= 0 ? state.axis : state.axis + x.rank;
    const training = (kwargs['training'] as boolean | undefined) ?? false;
    // The stock layer normalises ranks 2 to 4 only; other ranks and axes keep its code and its errors.
    if (stockRequested() || x.rank < 2 || x.rank > 4 || axis !== x.rank - 1 || x.dtype !== 'float32') return super.call(inputs, kwargs);
    if (!training) {
      // Outside a tape there is no gradient to make cheaper: the stock code.
      if (!tf.engine().isTapeOn()) return super.call(inputs, kwargs);
      const parameters = [state.movingMean, state.movingVariance, state.gamma, state.beta].map((v) => v?.read() ?? null);
      if (parameters.some((p) => p !== null && (p.dtype !== 'float32' || p.rank !== 1))) return super.call(inputs, kwargs);
      const [mean, variance, gamma, beta] = parameters as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D | null, tf.Tensor1D | null];
      return batchNormInference(x, mean, variance, gamma, beta, state.epsilon) ?? super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      const updateMovingAverage = (variable: tf.LayerVariable, value: tf.Tensor): void => {
        // tfjs-layers' doMovingAverage, to the rounding: the update is the same ops on the same values.
        const previous = variable.read();
        variable.write(tf.sub(previous, tf.mul(tf.sub(previous, value), 1 - state.momentum)));
      };
      return batchNormTraining(x, state.gamma?.read() ?? null, state.beta?.read() ?? null, state.epsilon, (mean, variance) => {
        updateMovingAverage(state.movingMean, mean);
        updateMovingAverage(state.movingVariance, variance);
      });
    });
  }
}
tf.serialization.registerClass(FastBatchNormalization);

/**
 * tfjs-layers' Conv2D that, while a gradient tape records (inside tf.grad, tf.variableGrads, optimizer.minimize:
 * gradientDepth > 0, and not inside a kernel or customGrad forward pass, as tfjs' engine.isTapeOn() says), computes
 * conv2d + bias + activation as separate ops, so that the tape computes only the gradients asked for. Otherwise
 * (inference) it is the stock fused path, bit for bit. Only 2-D, channels-last convolutions; the rest, and every call
 * with TEMPER_STOCK_KERNELS=1, is stock.
 */
export class FastConv2D extends StockConv2D {
  static className = 'Conv2D';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const recording = tf.engine().isTapeOn();
    const padding = this.padding;
    if (!recording || stockRequested() || this.rank !== 2 || this.dataFormat !== 'channelsLast' || padding === 'causal') return super.call(inputs, kwargs);
    return tf.tidy(() => {
      let x = singleTensor(inputs);
      if (x.dtype !== 'float32') x = tf.cast(x, 'float32');
      const [strideH, strideW] = this.strides as [number, number];
      const [dilationH, dilationW] = this.dilationRate as [number, number];
      const kernel = this.kernel.read() as tf.Tensor4D;
      // Where the backend has it (wasm, webgpu), one fused conv + bias + activation whose gradient parts are each
      // computed only when asked for (src/backend/kernels/fused-conv.ts); else the three ops apart.
      const activation = this.activation == null ? 'linear' : this.activation.getClassName();
      if ((activation === 'relu' || activation === 'linear') && dilationH === 1 && dilationW === 1 && tf.getKernel(FUSED_CONV, tf.getBackend()) !== undefined) {
        const operands: tf.NamedTensorMap = this.bias != null ? { x, filter: kernel, bias: this.bias.read() } : { x, filter: kernel };
        const attrs = { strides: [strideH, strideW], pad: padding, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined, activation };
        return tf.engine().runKernel(FUSED_CONV, operands, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      }
      let y: tf.Tensor = tf.conv2d(x as tf.Tensor4D, kernel, [strideH, strideW], padding, 'NHWC', [dilationH, dilationW]);
      if (this.bias != null) y = tf.add(y, this.bias.read());
      return this.activation == null ? y : this.activation.apply(y);
    });
  }
}
tf.serialization.registerClass(FastConv2D);

// The stock GELU activation class (tfjs-layers activations.ts, exported only through its registry).
const StockGelu = Object.getPrototypeOf((tf.layers.activation({ activation: 'gelu', name: 'temper_probe' }) as unknown as { activation: object }).activation)
  .constructor as new () => { apply(x: tf.Tensor): tf.Tensor };

/**
 * GELU(x) = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2, with the stock forward ops (bit for bit), as one tape node
 * that saves only x. Differentiated op by op, the stock activation keeps five full-size tensors per call for its
 * gradient (x / sqrt 2, erf of it, 1 + erf, Phi, x), on the widest activation of a transformer block; here the gradient
 * dy * (Phi(x) + x * phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi), is recomputed from x. Null where the engine has no
 * runKernelFunc: the caller runs the stock code.
 */
export function geluSavingInput(x: tf.Tensor): tf.Tensor | null {
  const engine = kernelFuncEngine();
  if (engine === null) return null;
  const cdf = (t: tf.Tensor) => tf.mul(0.5, tf.add(1, tf.erf(tf.div(t, Math.SQRT2))));
  return tf.tidy('FastGelu', () =>
    engine.runKernelFunc({
      inputs: { x },
      forwardFunc: (_backend, save) => {
        save([x]);
        return tf.mul(x, cdf(x));
      },
      backwardsFunc: (dy, saved) => ({
        x: () => {
          const input = saved[0]!;
          const density = tf.mul(Math.sqrt(0.5 / Math.PI), tf.exp(tf.mul(tf.square(input), -0.5)));
          return tf.mul(dy, tf.add(cdf(input), tf.mul(input, density)));
        },
      }),
    }),
  );
}

/** tfjs-layers' 'gelu' activation whose gradient keeps only its input (geluSavingInput); stock with TEMPER_STOCK_KERNELS=1. */
export class FastGelu extends StockGelu {
  static className = 'gelu';

  override apply(x: tf.Tensor): tf.Tensor {
    if (stockRequested() || x.dtype !== 'float32' || !tf.engine().isTapeOn()) return super.apply(x);
    return geluSavingInput(x) ?? super.apply(x);
  }
}
tf.serialization.registerClass(FastGelu as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

/**
 * Layer normalisation over the last axis, (x - mean) * rsqrt(var + eps) * gamma + beta, with the LayerNorm layer's
 * forward ops (bit for bit), as one tape node that saves x and the per-token mean and rsqrt(var + eps). Op by op its
 * gradient keeps about four full-size tensors per call. Backward (D features, xhat = (x - mean) * r, g = dy * gamma):
 * dbeta = sum(dy), dgamma = sum(dy * xhat) over the leading axes, dx = r * (g - mean(g) - xhat * mean(g * xhat)) over
 * the last. Null where the engine has no runKernelFunc: the caller runs its own ops.
 */
export function layerNormSavingInput(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number): tf.Tensor | null {
  const engine = kernelFuncEngine();
  if (engine === null) return null;
  const leading = Array.from({ length: x.rank - 1 }, (_, i) => i);
  return tf.tidy('FastLayerNorm', () =>
    engine.runKernelFunc({
      inputs: { x, gamma, beta },
      forwardFunc: (_backend, save) => {
        const { mean, variance } = tf.moments(x, -1, true);
        const inverseStd = tf.rsqrt(tf.add(variance, epsilon));
        save([x, mean, inverseStd, gamma]);
        return tf.add(tf.mul(tf.mul(tf.sub(x, mean), inverseStd), gamma), beta);
      },
      backwardsFunc: (dy, saved) => {
        const [input, mean, inverseStd, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor1D];
        const normalized = () => tf.mul(tf.sub(input, mean), inverseStd);
        // The per-feature sums are small; computing them here frees their full-size operands at once.
        const [dGamma, dBeta] = tf.tidy(() => [tf.sum(tf.mul(dy, normalized()), leading), tf.sum(dy, leading)]);
        return {
          x: () => {
            const xhat = normalized();
            const g = tf.mul(dy, scale);
            const centred = tf.sub(g, tf.mean(g, -1, true));
            return tf.mul(inverseStd, tf.sub(centred, tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true))));
          },
          gamma: () => dGamma,
          beta: () => dBeta,
        };
      },
    }),
  );
}

type StockDense = ReturnType<typeof tf.layers.dense>;
export type DenseArgs = Parameters<typeof tf.layers.dense>[0];
const StockDense = Object.getPrototypeOf(tf.layers.dense({ name: 'temper_probe', units: 1 })).constructor as LayerStatics &
  (new (args: DenseArgs) => StockDense);

/** The stock layer's private state FastDense reads (tfjs-layers 4.22, layers/core.ts). */
interface DenseState {
  units: number;
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  activation: { getClassName(): string; apply(x: tf.Tensor): tf.Tensor };
}

/**
 * tfjs-layers' Dense whose product, under a gradient tape, is TemperFusedMatMul (src/backend/kernels/fused-mat-mul.ts):
 * the backend's own _FusedMatMul kernel, given what tfjs' fused matMul gives it, so the same bits as the stock layer,
 * with a gradient that computes the weight gradient only when it is asked for (a training step), not in an attack
 * step. The stock layer's product (K.dot: tfjs' fused matMul, linear) keeps its product fused under a tape, and that
 * op's gradient computes every input's. Linear layers and layers whose activation tfjs does not fuse (GELU: product,
 * bias add, activation) take this path; ReLU and ELU layers, which tfjs already unfuses under a tape into ops with lazy
 * gradients, keep the stock code, as do calls outside a tape, where the backend lacks the kernel, and every call with
 * TEMPER_STOCK_KERNELS=1.
 */
export class FastDense extends StockDense {
  static className = 'Dense';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const state = this as unknown as DenseState;
    const x = singleTensor(inputs);
    const activation = state.activation?.getClassName() ?? 'linear';
    const ownPath = activation !== 'relu' && activation !== 'elu' && tf.getKernel(FUSED_MAT_MUL, tf.getBackend()) !== undefined;
    if (!ownPath || !tf.engine().isTapeOn() || stockRequested() || x.dtype !== 'float32' || x.rank < 2) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      // K.dot's rows and kernel in the 3-D form tfjs' fused matMul hands its kernel (a batch of one).
      const rows = tf.reshape(x, [1, -1, x.shape.at(-1)!]);
      const kernel = state.kernel.read();
      const b = tf.reshape(kernel, [1, ...kernel.shape]);
      const fuseBias = activation === 'linear' && state.bias !== null;
      const operands: tf.NamedTensorMap = fuseBias ? { a: rows, b, bias: state.bias!.read() } : { a: rows, b };
      const attrs = { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0.2 };
      let y = tf.reshape(tf.engine().runKernel(FUSED_MAT_MUL, operands, attrs as unknown as tf.NamedAttrMap) as tf.Tensor, [...x.shape.slice(0, -1), state.units]);
      if (activation === 'linear') return y;
      if (state.bias) y = tf.add(y, state.bias.read());
      return state.activation.apply(y);
    });
  }
}
tf.serialization.registerClass(FastDense);
