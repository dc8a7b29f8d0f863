// Batch normalisation in training mode on wasm, as three kernels that each read the activation once or twice. Op by op
// (tf.sum, tf.squaredDifference, tf.batchNorm, tf.mul, tf.add: single-threaded stock kernels and full-size temporaries)
// the statistics and the closed-form gradient took about a quarter of vgg6-bn's training step: 15 ms for the
// statistics of one 128x32x32x64 activation and 45 ms for its gradient.
// - TemperBatchMoments: the batch mean and biased variance per channel (two passes: sums, then squared deviations).
// - TemperBatchNormGradSums: dbeta = sum(dy) and dgamma = sum(dy * (x - mean)) / sqrt(var + eps), one pass.
// - TemperBatchNormGradInput: dx = a * dy - (a / M) * (dbeta + xhat * dgamma), a = gamma / sqrt(var + eps), one pass.
// The sums run on the worker threads a block of rows at a time; each block is summed in float32 (simd/kernels.wat
// channel_sums) and the blocks are added in order in float64, so the bits do not depend on the thread count. Where the
// project's SIMD kernels are off (TEMPER_NO_SIMD_KERNELS=1) the same float32 operations run in JavaScript.
import * as tf from '@tensorflow/tfjs';
import { elementShares, runKernelJobs } from './gemm.js';
import { heapOffset, simdKernels } from './simd/index.js';
import { heapFloat32, type WasmKernelArgs } from './wasm-compose.js';

export const BATCH_MOMENTS = 'TemperBatchMoments';
export const BATCH_NORM_GRAD_SUMS = 'TemperBatchNormGradSums';
export const BATCH_NORM_GRAD_INPUT = 'TemperBatchNormGradInput';

/** Floats per block of channel sums (64 KiB of each input): a block's rows, for any thread split. */
const BLOCK_FLOATS = 16384;

/** Rows per block of channel sums; depends on the channel count only. */
export function blockRows(channels: number): number {
  return Math.max(1, Math.floor(BLOCK_FLOATS / channels));
}

/** Whether the kernels take a tensor of this shape and type: float32, channels (last axis) a multiple of 4. */
export function takesBatchNormShape(shape: readonly number[], dtype: string): boolean {
  const channels = shape.at(-1) ?? 0;
  return dtype === 'float32' && shape.length >= 2 && channels > 0 && channels % 4 === 0 && tf.util.sizeFromShape([...shape]) > 0;
}

const f32 = Math.fround;

/** simd/kernels.wat channel_sums, one float32 operation at a time (four lanes are four independent channels). */
export function channelSumsBlocks(
  u: Float32Array, v: Float32Array, cu: Float32Array, cv: Float32Array, out: Float32Array, rows: number, channels: number, block: number,
): void {
  for (let first = 0, b = 0; first < rows; first += block, b++) {
    const n = Math.min(block, rows - first);
    for (let c = 0; c < channels; c++) {
      let a1 = 0;
      let a2 = 0;
      let b1 = 0;
      let b2 = 0;
      let at = first * channels + c;
      for (let r = 0; r + 1 < n; r += 2, at += 2 * channels) {
        let d = f32(u[at]! - cu[c]!);
        a1 = f32(a1 + d);
        b1 = f32(b1 + f32(d * f32(v[at]! - cv[c]!)));
        d = f32(u[at + channels]! - cu[c]!);
        a2 = f32(a2 + d);
        b2 = f32(b2 + f32(d * f32(v[at + channels]! - cv[c]!)));
      }
      if (n % 2 === 1) {
        const d = f32(u[at]! - cu[c]!);
        a1 = f32(a1 + d);
        b1 = f32(b1 + f32(d * f32(v[at]! - cv[c]!)));
      }
      out[b * 2 * channels + c] = a1 + a2;
      out[b * 2 * channels + channels + c] = b1 + b2;
    }
  }
}

/**
 * Per channel, in float64: sum of (u - cu) and sum of (u - cu) * (v - cv) over the rows of u and v (`rows` x
 * `channels`, channels last); `centres` is cu then cv. Each block of blockRows(channels) rows is summed in float32 and
 * the blocks are added in order.
 */
function channelSums(backend: WasmKernelArgs['backend'], u: tf.TensorInfo, v: tf.TensorInfo, centres: Float32Array, channels: number) {
  const size = tf.util.sizeFromShape(u.shape);
  const rows = size / channels;
  const block = blockRows(channels);
  const blocks = Math.ceil(rows / block);
  // The centres, then two rows of sums per block.
  const scratch = backend.makeOutput([2 * channels * (blocks + 1)], 'float32');
  try {
    heapFloat32(backend, scratch).set(centres);
    const simd = simdKernels(backend);
    if (simd !== undefined) {
      const [uAt, vAt, centresAt] = [heapOffset(backend, u), heapOffset(backend, v), heapOffset(backend, scratch)];
      const outAt = centresAt + 8 * channels;
      runKernelJobs(backend, elementShares(backend, blocks, 1, size).map(([firstBlock, endBlock]) => {
        const firstRow = firstBlock * block;
        const shareRows = Math.min(rows, endBlock * block) - firstRow;
        return {
          fn: 'channel_sums',
          args: [uAt + 4 * firstRow * channels, vAt + 4 * firstRow * channels, centresAt, outAt + 8 * channels * firstBlock, shareRows, channels, block],
        };
      }));
    } else {
      const all = heapFloat32(backend, scratch);
      channelSumsBlocks(heapFloat32(backend, u), heapFloat32(backend, v), all.subarray(0, channels), all.subarray(channels, 2 * channels),
        all.subarray(2 * channels), rows, channels, block);
    }
    const partials = heapFloat32(backend, scratch).subarray(2 * channels);
    const first = new Float64Array(channels);
    const second = new Float64Array(channels);
    for (let b = 0; b < blocks; b++) {
      const at = 2 * channels * b;
      for (let c = 0; c < channels; c++) {
        first[c] += partials[at + c]!;
        second[c] += partials[at + channels + c]!;
      }
    }
    return { first, second, rows };
  } finally {
    backend.disposeData(scratch.dataId);
  }
}

/** A float32 vector output holding `values`. */
function vectorOutput(backend: WasmKernelArgs['backend'], values: ArrayLike<number>): tf.TensorInfo {
  const out = backend.makeOutput([values.length], 'float32');
  heapFloat32(backend, out).set(values);
  return out;
}

function checkShape(kernel: string, x: tf.TensorInfo, ...others: tf.TensorInfo[]): number {
  if (!takesBatchNormShape(x.shape, x.dtype)) throw new Error(`${kernel}: x must be float32 with a multiple of 4 channels, got ${x.dtype} [${x.shape}]`);
  const channels = x.shape.at(-1)!;
  for (const t of others) {
    if (t.dtype !== 'float32') throw new Error(`${kernel}: float32 inputs only, got ${t.dtype}`);
  }
  return channels;
}

/** Mean and biased variance over every axis but the last: [mean, variance], float32 [channels] each. */
export const batchMomentsWasmConfig: tf.KernelConfig = {
  kernelName: BATCH_MOMENTS,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend }: WasmKernelArgs) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const channels = checkShape(BATCH_MOMENTS, x);
    const zeros = new Float32Array(2 * channels);
    const { first: sums, rows } = channelSums(backend, x, x, zeros, channels);
    const mean = Float32Array.from(sums, (s) => s / rows);
    // Squared deviations from the float32 mean: cu = cv = mean.
    const { second: squares } = channelSums(backend, x, x, Float32Array.from([...mean, ...mean]), channels);
    return [vectorOutput(backend, mean), vectorOutput(backend, Float32Array.from(squares, (s) => s / rows))];
  }) as unknown as tf.KernelFunc,
};

/** 1 / sqrt(variance + epsilon) per channel, in float64 from the float32 sum (as the forward batch_norm kernel forms it). */
function inverseStd(backend: WasmKernelArgs['backend'], variance: tf.TensorInfo, epsilon: number): Float64Array {
  return Float64Array.from(heapFloat32(backend, variance), (v) => 1 / Math.sqrt(f32(v + f32(epsilon))));
}

/** [dbeta, dgamma] from dy, x and the batch statistics: sum(dy) and sum(dy * (x - mean)) / sqrt(variance + eps). */
export const batchNormGradSumsWasmConfig: tf.KernelConfig = {
  kernelName: BATCH_NORM_GRAD_SUMS,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend, attrs = {} }: WasmKernelArgs) => {
    const { dy, x, mean, variance } = inputs as Record<'dy' | 'x' | 'mean' | 'variance', tf.TensorInfo>;
    const channels = checkShape(BATCH_NORM_GRAD_SUMS, x, dy, mean, variance);
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const centres = new Float32Array(2 * channels);
    centres.set(heapFloat32(backend, mean), channels);
    const { first, second } = channelSums(backend, dy, x, centres, channels);
    const inverse = inverseStd(backend, variance, varianceEpsilon);
    return [vectorOutput(backend, first), vectorOutput(backend, second.map((s, c) => s * inverse[c]!))];
  }) as unknown as tf.KernelFunc,
};

/** dx = a * dy + ((x - mean) * s + t) in float32, as simd/kernels.wat bn_grad_input computes it. */
export function batchNormGradInputRows(dy: Float32Array, x: Float32Array, params: Float32Array, dx: Float32Array, channels: number): void {
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const [a, mean, s, t] = [params[c]!, params[channels + c]!, params[2 * channels + c]!, params[3 * channels + c]!];
      dx[i + c] = f32(f32(a * dy[i + c]!) + f32(f32(f32(x[i + c]! - mean) * s) + t));
    }
  }
}

/**
 * dx = a * dy - (a / M) * (dbeta + xhat * dgamma), xhat = (x - mean) / sqrt(var + eps), a = scale / sqrt(var + eps)
 * (scale 1 when absent), M rows: written as a * dy + (x - mean) * s + t with s = -(a / M) * dgamma / sqrt(var + eps)
 * and t = -(a / M) * dbeta worked out per channel in float64.
 */
export const batchNormGradInputWasmConfig: tf.KernelConfig = {
  kernelName: BATCH_NORM_GRAD_INPUT,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend, attrs = {} }: WasmKernelArgs) => {
    const { dy, x, mean, variance, scale, dbeta, dgamma } = inputs as Record<string, tf.TensorInfo | undefined>;
    const channels = checkShape(BATCH_NORM_GRAD_INPUT, x!, dy!, mean!, variance!, dbeta!, dgamma!, ...(scale ? [scale] : []));
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const size = tf.util.sizeFromShape(x!.shape);
    const rows = size / channels;
    // Allocate first: a growing heap detaches the views taken before.
    const params = backend.makeOutput([4 * channels], 'float32');
    const dx = backend.makeOutput(x!.shape, 'float32');
    try {
      const inverse = inverseStd(backend, variance!, varianceEpsilon);
      const gamma = scale ? heapFloat32(backend, scale) : null;
      const [meanValues, dbetaValues, dgammaValues] = [mean!, dbeta!, dgamma!].map((t) => heapFloat32(backend, t)) as [Float32Array, Float32Array, Float32Array];
      const p = heapFloat32(backend, params);
      for (let c = 0; c < channels; c++) {
        const a = (gamma ? gamma[c]! : 1) * inverse[c]!;
        p[c] = a;
        p[channels + c] = meanValues[c]!;
        p[2 * channels + c] = (-a / rows) * dgammaValues[c]! * inverse[c]!;
        p[3 * channels + c] = (-a / rows) * dbetaValues[c]!;
      }
      const simd = simdKernels(backend);
      if (simd !== undefined) {
        const [dyAt, xAt, paramsAt, dxAt] = [heapOffset(backend, dy!), heapOffset(backend, x!), heapOffset(backend, params), heapOffset(backend, dx)];
        runKernelJobs(backend, elementShares(backend, rows, 1, size).map(([first, end]) => ({
          fn: 'bn_grad_input',
          args: [dyAt + 4 * first * channels, xAt + 4 * first * channels, paramsAt, dxAt + 4 * first * channels, end - first, channels],
        })));
      } else {
        batchNormGradInputRows(heapFloat32(backend, dy!), heapFloat32(backend, x!), heapFloat32(backend, params), heapFloat32(backend, dx), channels);
      }
    } finally {
      backend.disposeData(params.dataId);
    }
    return dx;
  }) as unknown as tf.KernelFunc,
};
