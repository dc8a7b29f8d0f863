// Drop-in replacements for tfjs-layers' BatchNormalization and Conv2D that do less work under a gradient tape.
// Both keep the stock class name, configuration and weights (names and order), so checkpoints written with either
// load into either; importing this module registers them in place of the stock classes for deserialisation.
//
// - FastBatchNormalization: in training mode the stock layer is moments() + batchNorm() differentiated op by op:
//   about 84 kernels per layer and step (forward and backward), some 30 of them passes over the whole activation,
//   one a full-size Tile. Here it is one tf.customGrad: 4 full-size passes forward, the closed-form gradient with
//   7 backward, about 34 kernels in all. Inference mode is the stock code.
// - FastConv2D: tfjs-core keeps a linear conv fused under a tape (fused_util shouldFuse), and the fused op's custom
//   gradient always computes the input, filter and bias gradients. Under a tape this layer runs conv2d, bias add and
//   activation as separate ops, whose registered gradients are evaluated lazily: an input gradient (an attack step)
//   computes no filter gradient, and a training step computes no input gradient for the first convolution.
import * as tf from '@tensorflow/tfjs';

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

function singleTensor(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (!Array.isArray(inputs)) return inputs;
  if (inputs.length !== 1) throw new Error(`expected one input tensor, got ${inputs.length}`);
  return inputs[0]!;
}

/**
 * Batch normalisation over every axis but the last with batch statistics, as one differentiable op.
 * Forward: mean and biased variance per channel, y = gamma * (x - mean) / sqrt(var + eps) + beta.
 * Backward (M elements per channel, xhat = (x - mean) / sqrt(var + eps), a = gamma / sqrt(var + eps)):
 * dbeta = sum(dy), dgamma = sum(dy * xhat), dx = a * dy - (a / M) * (dbeta + xhat * dgamma).
 * `gamma` or `beta` null: the layer has no scale or no centre (1 and 0), and no gradient is returned for it.
 * `onStatistics` receives the batch mean and variance inside the op (tensors freed when it returns).
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
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input, scale, offset] = [args[0] as tf.Tensor, gamma ? (args[1] as tf.Tensor) : null, beta ? (args[gamma ? 2 : 1] as tf.Tensor) : null];
    // Sums, not tf.mean: wasm's Mean transposes a channels-last tensor first, and the project's wasm Sum does not.
    const mean = tf.mul(tf.sum(input, axes), 1 / count) as tf.Tensor1D;
    const variance = tf.mul(tf.sum(tf.squaredDifference(input, mean), axes), 1 / count) as tf.Tensor1D;
    onStatistics(mean, variance);
    const value = tf.batchNorm(input, mean, variance, offset ?? undefined, scale ?? undefined, epsilon);
    save(scale ? [input, mean, variance, scale] : [input, mean, variance]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedX, savedMean, savedVariance, savedScale] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D?];
      const inverseStd = tf.rsqrt(tf.add(savedVariance, epsilon));
      const a = savedScale ? tf.mul(savedScale, inverseStd) : inverseStd;
      const minusAOverCount = tf.mul(a, -1 / count);
      const dBeta = tf.sum(dy, axes);
      const normalized = tf.batchNorm(savedX, savedMean, savedVariance, undefined, undefined, epsilon);
      const dGamma = tf.sum(tf.mul(dy, normalized), axes);
      // -(a / M) * (dbeta + xhat * dgamma) is one more batchNorm of x: offset -(a / M) dbeta, scale -(a / M) dgamma.
      const correction = tf.batchNorm(savedX, savedMean, savedVariance, tf.mul(minusAOverCount, dBeta), tf.mul(minusAOverCount, dGamma), epsilon);
      const dx = tf.add(tf.mul(dy, a), correction);
      return [dx, ...(gamma ? [dGamma] : []), ...(beta ? [dBeta] : [])];
    };
    return { value, gradFunc };
  });
  return op(...inputs);
}

/**
 * tfjs-layers' BatchNormalization with a fused training-mode forward and backward pass (batchNormTraining).
 * Same arguments, configuration, weights and moving-average update as the stock layer: every training-mode call
 * sets moving = moving - (moving - batch) * (1 - momentum), with the batch's biased variance, as tfjs-layers does.
 * Unlike the stock layer (which fails on a missing gamma or beta in training mode), scale: false and center: false
 * train, with gamma 1 and beta 0. Inference mode, and an axis other than the last, run the stock code.
 */
export class FastBatchNormalization extends StockBatchNormalization {
  static className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const x = singleTensor(inputs);
    const state = this as unknown as BatchNormalizationState;
    const axis = state.axis >= 0 ? state.axis : state.axis + x.rank;
    const training = (kwargs['training'] as boolean | undefined) ?? false;
    // The stock layer normalises ranks 2 to 4 only; other ranks and axes keep its code and its errors.
    if (!training || x.rank < 2 || x.rank > 4 || axis !== x.rank - 1 || x.dtype !== 'float32') return super.call(inputs, kwargs);
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
 * (inference) it is the stock fused path, bit for bit. Only 2-D, channels-last convolutions; the rest is stock.
 */
export class FastConv2D extends StockConv2D {
  static className = 'Conv2D';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const recording = tf.engine().isTapeOn();
    const padding = this.padding;
    if (!recording || this.rank !== 2 || this.dataFormat !== 'channelsLast' || padding === 'causal') return super.call(inputs, kwargs);
    return tf.tidy(() => {
      let x = singleTensor(inputs);
      if (x.dtype !== 'float32') x = tf.cast(x, 'float32');
      const [strideH, strideW] = this.strides as [number, number];
      const [dilationH, dilationW] = this.dilationRate as [number, number];
      const kernel = this.kernel.read() as tf.Tensor4D;
      let y: tf.Tensor = tf.conv2d(x as tf.Tensor4D, kernel, [strideH, strideW], padding, 'NHWC', [dilationH, dilationW]);
      if (this.bias != null) y = tf.add(y, this.bias.read());
      return this.activation == null ? y : this.activation.apply(y);
    });
  }
}
tf.serialization.registerClass(FastConv2D);
