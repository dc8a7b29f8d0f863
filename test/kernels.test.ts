import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerProjectKernels } from '../src/backend/kernels/index.js';
import { conv2DBackpropFilterConfig, makeConv2DBackpropFilterConfig } from '../src/backend/kernels/conv2d-backprop-filter.js';
import { exactSign, linfStep, projectLinf } from '../src/attacks/attack.js';
import { bits, distUrl, runNodeScript, seededValues, TFJS_URL, WAIT_FOR_WORKER_THREADS } from './helpers.js';

type Shape4 = [number, number, number, number];

const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** Runs `compute` on the cpu backend, then on wasm, on the same input arrays; returns both results as flat arrays. */
async function onBothBackends(
  inputs: Array<{ shape: number[]; seed: number }>,
  compute: (...tensors: tf.Tensor[]) => tf.Tensor[],
): Promise<{ cpu: Float32Array[]; wasm: Float32Array[] }> {
  const arrays = inputs.map(({ shape, seed }) => seededValues(sizeOf(shape), seed));
  const run = (): Float32Array[] =>
    tf.tidy(() => compute(...inputs.map(({ shape }, i) => tf.tensor(arrays[i]!, shape)))).map((t) => {
      const values = t.dataSync() as Float32Array;
      t.dispose();
      return values;
    });
  await tf.setBackend('cpu');
  const cpu = run();
  await tf.setBackend('wasm');
  return { cpu, wasm: run() };
}

/**
 * Each element is a float32 sum of `terms` products of values in [-1, 1]; summed in another order its
 * rounding error is at most terms * 2^-23 (~1.2e-7 per term), so that is allowed on top of 1e-4,
 * relative above magnitude 1 and absolute below it.
 */
function assertClose(got: Float32Array, want: Float32Array, terms: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const tolerance = 1e-4 * Math.max(1, Math.abs(want[i]!)) + terms * 2 ** -23;
    const error = Math.abs(got[i]! - want[i]!);
    if (!(error <= tolerance)) assert.fail(`${what}: element ${i} is ${got[i]}, cpu gives ${want[i]} (error ${error} > ${tolerance})`);
  }
}

interface ConvCase {
  x: Shape4;
  kernel: number;
  outChannels: number;
  stride: number;
  pad: 'same' | 'valid';
}

const convCases: ConvCase[] = [
  { x: [1, 7, 7, 1], kernel: 3, outChannels: 4, stride: 1, pad: 'same' },
  { x: [4, 9, 7, 3], kernel: 3, outChannels: 8, stride: 1, pad: 'valid' },
  { x: [4, 9, 9, 3], kernel: 3, outChannels: 5, stride: 2, pad: 'same' },
  { x: [1, 11, 10, 8], kernel: 3, outChannels: 8, stride: 2, pad: 'valid' },
  { x: [4, 8, 8, 8], kernel: 1, outChannels: 3, stride: 1, pad: 'same' },
  { x: [1, 7, 9, 3], kernel: 1, outChannels: 8, stride: 2, pad: 'valid' },
  { x: [4, 13, 11, 1], kernel: 5, outChannels: 8, stride: 1, pad: 'same' },
  { x: [1, 12, 13, 3], kernel: 5, outChannels: 1, stride: 2, pad: 'same' },
  { x: [4, 9, 9, 8], kernel: 5, outChannels: 3, stride: 1, pad: 'valid' },
  { x: [4, 10, 10, 1], kernel: 5, outChannels: 8, stride: 2, pad: 'valid' },
  // Few taps and few input channels with 16 + 4 output channels (both of their kernels' loops), over more images than
  // the filter gradient's 8 parts; then images of 400 positions (several of filter_grad_taps's blocks of 256).
  { x: [11, 6, 7, 2], kernel: 3, outChannels: 20, stride: 1, pad: 'same' },
  { x: [3, 20, 20, 1], kernel: 3, outChannels: 16, stride: 1, pad: 'same' },
  // A first layer of the CIFAR nets: one image per group (372 KiB each), so each of the 8 parts adds 2 or 3 groups.
  { x: [17, 32, 32, 3], kernel: 3, outChannels: 64, stride: 1, pad: 'same' },
];

const describeCase = (c: ConvCase): string => `x [${c.x}], ${c.kernel}x${c.kernel}x${c.outChannels}, stride ${c.stride}, ${c.pad}`;

/** dx and dw of sum(conv2d(x, w) * dyWeights), i.e. the backprop kernels fed with dy = dyWeights. */
async function convGradients(c: ConvCase) {
  const filterShape: Shape4 = [c.kernel, c.kernel, c.x[3], c.outChannels];
  const outShape = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.stride, 1, c.pad).outShape;
  const result = await onBothBackends(
    [{ shape: c.x, seed: 1 }, { shape: filterShape, seed: 2 }, { shape: outShape, seed: 3 }],
    (x, w, dy) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), dy!)))([x!, w!]),
  );
  return { ...result, outShape };
}

/**
 * Runs `body` with TEMPER_GEMM set to `value` ('0': XNNPACK's products and the JavaScript im2col, the paths temper
 * takes without its own matrix product), then restores it.
 */
async function withGemm<T>(value: string, body: () => Promise<T>): Promise<T> {
  const saved = process.env['TEMPER_GEMM'];
  process.env['TEMPER_GEMM'] = value;
  try {
    return await body();
  } finally {
    if (saved === undefined) delete process.env['TEMPER_GEMM'];
    else process.env['TEMPER_GEMM'] = saved;
  }
}

/** The two ways products run on wasm: temper's matrix product (the default) and XNNPACK's (TEMPER_GEMM=0). */
const PRODUCTS = [{ env: '1', label: "temper's product" }, { env: '0', label: 'TEMPER_GEMM=0' }] as const;

describe('project kernels on wasm', () => {
  let registered: string[] = [];

  before(async () => {
    await tf.setBackend('wasm');
    registered = registerProjectKernels('wasm');
  });

  after(async () => {
    await tf.setBackend('wasm');
  });

  it('registers the filter gradient, input gradient and max-pool gradient once', () => {
    for (const name of [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput, tf.MaxPoolGrad]) assert.ok(registered.includes(name), name);
    assert.deepEqual(registerProjectKernels('wasm'), registered);
    assert.deepEqual(registerProjectKernels('cpu'), []);
  });

  it('registers nothing when TEMPER_STOCK_KERNELS=1', () => {
    process.env['TEMPER_STOCK_KERNELS'] = '1';
    try {
      assert.deepEqual(registerProjectKernels('wasm'), []);
    } finally {
      delete process.env['TEMPER_STOCK_KERNELS'];
    }
  });

  for (const products of PRODUCTS) for (const c of convCases) {
    it(`the wasm filter and input gradients equal the cpu backend's within 1e-4 (${products.label}): ${describeCase(c)}`, async () => {
      const { cpu, wasm, outShape } = await withGemm(products.env, () => convGradients(c));
      assertClose(wasm[1]!, cpu[1]!, outShape[0] * outShape[1] * outShape[2], `filter gradient, ${describeCase(c)}`);
      assertClose(wasm[0]!, cpu[0]!, c.kernel * c.kernel * c.outChannels, `input gradient, ${describeCase(c)}`);
    });
  }

  for (const products of PRODUCTS) it(`a batch too large for one im2col matrix is done in chunks of images and still equals the cpu backend's (${products.label})`, async () => {
    // 3x3x3 patches over 9x9 outputs are 2,187 floats per image: a limit of 5,000 makes chunks of 2 images (2, 2, 1).
    const chunked = makeConv2DBackpropFilterConfig(5000);
    tf.unregisterKernel(tf.Conv2DBackpropFilter, 'wasm');
    tf.registerKernel(chunked);
    try {
      // The first takes the few-taps kernel; 5 filters (not a multiple of 4) take the im2col product, whose chunks
      // add into dW in place (C += A B) with temper's product. Stride 2 there: 5x5 outputs, chunks of 5,000 / 675 = 7
      // images, so the 9 images below make two chunks.
      const cases: ConvCase[] = [
        { x: [5, 9, 9, 3], kernel: 3, outChannels: 4, stride: 1, pad: 'same' },
        { x: [9, 9, 9, 3], kernel: 3, outChannels: 5, stride: 2, pad: 'same' },
      ];
      for (const c of cases) {
        const { cpu, wasm, outShape } = await withGemm(products.env, () => convGradients(c));
        assertClose(wasm[1]!, cpu[1]!, outShape[0] * outShape[1] * outShape[2], `chunked filter gradient, ${describeCase(c)}`);
      }
    } finally {
      tf.unregisterKernel(tf.Conv2DBackpropFilter, 'wasm');
      tf.registerKernel(conv2DBackpropFilterConfig);
    }
  });

  type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];
  // The second padding is wider than the filter, which the input gradient handles by col2im.
  const explicitPads: ExplicitPad[] = [[[0, 0], [2, 0], [1, 2], [0, 0]], [[0, 0], [3, 1], [0, 4], [0, 0]]];
  for (const products of PRODUCTS) for (const pad of explicitPads) {
    it(`the wasm filter and input gradients with explicit padding ${JSON.stringify(pad)} equal the cpu backend's (${products.label})`, async () => {
      const x: Shape4 = [2, 8, 7, 3];
      const filterShape: Shape4 = [3, 3, 3, 4];
      const outShape = tf.backend_util.computeConv2DInfo(x, filterShape, 1, 1, pad).outShape;
      const { cpu, wasm } = await withGemm(products.env, () => onBothBackends(
        [{ shape: x, seed: 4 }, { shape: filterShape, seed: 5 }, { shape: outShape, seed: 6 }],
        (a, w, dy) => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 1, pad), dy!)))([a!, w!]),
      ));
      assertClose(wasm[1]!, cpu[1]!, outShape[0] * outShape[1] * outShape[2], 'filter gradient');
      assertClose(wasm[0]!, cpu[0]!, 3 * 3 * 4, 'input gradient');
    });
  }

  const poolCases: Array<{ x: Shape4; size: number; stride: number; pad: 'same' | 'valid' }> = [
    { x: [4, 8, 8, 8], size: 2, stride: 2, pad: 'valid' },
    { x: [1, 7, 9, 3], size: 2, stride: 2, pad: 'same' },
    { x: [4, 9, 7, 1], size: 3, stride: 2, pad: 'same' },
    { x: [1, 6, 5, 8], size: 2, stride: 1, pad: 'valid' },
    // An exact 2x2/2 tiling with one channel (the tiled path) and an odd size next to it (the general path).
    { x: [3, 6, 10, 1], size: 2, stride: 2, pad: 'valid' },
    { x: [2, 7, 7, 2], size: 2, stride: 2, pad: 'valid' },
  ];
  for (const p of poolCases) {
    it(`the wasm max-pool gradient equals the cpu backend's: x [${p.x}], ${p.size}x${p.size}/${p.stride} ${p.pad}`, async () => {
      const outShape = tf.backend_util.computePool2DInfo(p.x, p.size, p.stride, 1, p.pad).outShape;
      const { cpu, wasm } = await onBothBackends(
        // Rounded inputs make ties common, so the first-maximum rule is exercised too.
        [{ shape: p.x, seed: 7 }, { shape: outShape, seed: 8 }],
        (x, dy) => [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(tf.round(tf.mul(a, 2)) as tf.Tensor4D, p.size, p.stride, p.pad), dy!)))(x!)],
      );
      assertClose(wasm[0]!, cpu[0]!, p.size * p.size, 'max-pool gradient');
    });
  }

  it('Maximum, Minimum, Greater and Less give the cpu backend\'s values bit for bit: NaN, signed zeros, ties, a single value on either side, many threads\' worth', async () => {
    for (const name of [tf.Maximum, tf.Minimum, tf.Greater, tf.Less]) assert.ok(registered.includes(name), name);
    // Odd lengths (the kernel's scalar tail), 2^17 + 3 values (split over the worker threads), and special values mixed in.
    const special = [Number.NaN, 0, -0, 1, -1, Infinity, -Infinity, 0.5];
    const values = (n: number, seed: number): Float32Array => {
      const v = seededValues(n, seed);
      for (let i = 0; i < n; i += 7) v[i] = special[(i / 7 + seed) % special.length]!;
      return v;
    };
    const ops: Array<[string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor]> = [
      ['maximum', tf.maximum], ['minimum', tf.minimum], ['greater', tf.greater], ['less', tf.less],
    ];
    const cases: Array<[number[], number[]]> = [[[3, 5, 7], [3, 5, 7]], [[2 ** 17 + 3], [2 ** 17 + 3]], [[4, 9, 1], []], [[], [4, 9, 1]], [[2, 3], [1, 1]],
      // Broadcasting along an axis: the stock kernel, same values.
      [[4, 3, 2], [4, 1, 2]]];
    const results = async (backend: string) => {
      await tf.setBackend(backend);
      return tf.tidy(() => cases.flatMap(([sa, sb], c) => ops.map(([, f]) => {
        const a = tf.tensor(values(sizeOf(sa), 2 * c + 1), sa);
        const b = tf.tensor(values(sizeOf(sb), 2 * c + 2), sb);
        const out = f(a, b);
        // Every NaN as one NaN: the SIMD max and min may set a NaN's sign bit, which no computation reads.
        const canonical = Array.from(out.dataSync() as ArrayLike<number>, (v) => (Number.isNaN(v) ? Number.NaN : v));
        return { dtype: out.dtype, shape: out.shape, bits: bits(new Float32Array(canonical)) };
      })));
    };
    const cpu = await results('cpu');
    const wasm = await results('wasm');
    cases.forEach(([sa, sb], c) => ops.forEach(([what], o) => {
      const i = c * ops.length + o;
      assert.deepEqual(wasm[i], cpu[i], `${what}, [${sa}] and [${sb}]`);
    }));
    // int32 goes to the stock kernel.
    assert.deepEqual(Array.from(tf.maximum(tf.tensor1d([1, -5, 3], 'int32'), tf.tensor1d([2, -6, 3], 'int32')).dataSync()), [2, -5, 3]);
  });

  it('Add, Sub, Multiply, RealDiv and Relu of small tensors run here with the cpu backend\'s bits: broadcasting on either side, NaN, signed zeros, infinities, tiny values', async () => {
    for (const name of [tf.Add, tf.Sub, tf.Multiply, tf.RealDiv, tf.Relu]) assert.ok(registered.includes(name), name);
    const { SMALL_ARITHMETIC_MAX } = await import('../src/backend/kernels/elementwise.js');
    const special = [Number.NaN, 0, -0, Infinity, -Infinity, 1e-45, -3e-39, 3.4e38];
    const values = (n: number, seed: number): Float32Array => {
      const v = seededValues(n, seed).map((x) => x * 7);
      for (let i = 0; i < n; i += 5) v[i] = special[(i / 5 + seed) % special.length]!;
      return v;
    };
    const ops: Array<[string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor]> = [['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['div', tf.div]];
    // cnn-small's (a bias per column, a value per row, one value); both sides broadcast; rank 0; the largest size taken
    // here and one past it (the stock kernel, same values).
    const cases: Array<[number[], number[]]> = [[[128, 128], [128]], [[128, 1], [128, 10]], [[128, 10], []], [[], [3, 5]], [[3, 1, 5], [4, 1]],
      [[2, 1, 3, 1], [1, 4, 1, 2]], [[], []], [[5, 7], [5, 7]], [[SMALL_ARITHMETIC_MAX], [SMALL_ARITHMETIC_MAX]], [[SMALL_ARITHMETIC_MAX + 1], [1]]];
    const results = async (backend: string) => {
      await tf.setBackend(backend);
      return tf.tidy(() => cases.flatMap(([sa, sb], c) => [...ops.map(([, f]) => f(tf.tensor(values(sizeOf(sa), 2 * c + 1), sa), tf.tensor(values(sizeOf(sb), 2 * c + 2), sb))),
        tf.relu(tf.tensor(values(sizeOf(sa), 2 * c + 3), sa))].map((out) => {
        // Every NaN as one NaN: which NaN an operation returns is not specified, and no computation reads its bits.
        const canonical = Float32Array.from(out.dataSync() as Float32Array, (v) => (Number.isNaN(v) ? Number.NaN : v));
        return { shape: out.shape, bits: bits(canonical) };
      })));
    };
    const cpu = await results('cpu');
    const wasm = await results('wasm');
    cases.forEach(([sa, sb], c) => [...ops.map(([what]) => what), 'relu'].forEach((what, o) => {
      const i = c * (ops.length + 1) + o;
      assert.deepEqual(wasm[i], cpu[i], `${what}, [${sa}] and [${sb}]`);
    }));
    // int32 goes to the stock kernel.
    assert.deepEqual(Array.from(tf.add(tf.tensor1d([1, -5, 3], 'int32'), tf.tensor1d([2, -6, 3], 'int32')).dataSync()), [3, -11, 6]);
  });

  it('_FusedMatMul and TemperFusedMatMul run the project\'s product with bias and ReLU: the cpu backend\'s values within rounding, the same bits as each other', async () => {
    assert.ok(registered.includes(tf._FusedMatMul), '_FusedMatMul');
    type Case = { a: number[]; b: number[]; bias?: number[]; activation: 'linear' | 'relu' | 'elu'; transposeA?: boolean; transposeB?: boolean };
    const cases: Case[] = [
      { a: [128, 128], b: [128, 10], bias: [10], activation: 'linear' },
      { a: [16, 33], b: [33, 24], bias: [24], activation: 'relu' },
      { a: [2, 7, 9], b: [2, 9, 5], activation: 'relu' },
      { a: [9, 7], b: [5, 9], bias: [5], activation: 'relu', transposeA: true, transposeB: true },
      // Another activation: the stock kernel.
      { a: [6, 4], b: [4, 3], bias: [3], activation: 'elu' },
    ];
    let seed = 70;
    for (const c of cases) {
      const inputs = [{ shape: c.a, seed: seed++ }, { shape: c.b, seed: seed++ }, ...(c.bias ? [{ shape: c.bias, seed: seed++ }] : [])];
      const fused = (a: tf.Tensor, b: tf.Tensor, bias?: tf.Tensor) =>
        tf.fused.matMul({ a, b, bias, activation: c.activation, transposeA: c.transposeA ?? false, transposeB: c.transposeB ?? false });
      const { cpu, wasm } = await onBothBackends(inputs, (a, b, bias) => [fused(a!, b!, bias)]);
      const inner = c.transposeA ? c.a.at(-2)! : c.a.at(-1)!;
      assertClose(wasm[0]!, cpu[0]!, inner + 1, JSON.stringify(c));
      // The project's name for it (FastDense's, 3-D operands) gives the same bits.
      if (c.a.length === 2 && !c.transposeA && !c.transposeB && c.activation !== 'elu') {
        const ours = tf.tidy(() => {
          const [a, b, bias] = inputs.map(({ shape, seed: s }) => tf.tensor(seededValues(sizeOf(shape), s), shape));
          const operands: tf.NamedTensorMap = { a: tf.reshape(a!, [1, ...c.a]), b: tf.reshape(b!, [1, ...c.b]), ...(bias ? { bias: bias } : {}) };
          return tf.engine().runKernel('TemperFusedMatMul', operands, { transposeA: false, transposeB: false, activation: c.activation } as unknown as tf.NamedAttrMap) as tf.Tensor;
        });
        assert.equal(bits(ours.dataSync() as Float32Array), bits(wasm[0]!), `${JSON.stringify(c)}: TemperFusedMatMul`);
        ours.dispose();
      }
    }
  });

  it('the one-pass ReLU gradient equals the stock gradient, zeros and ties included, and replaces its three kernels', async () => {
    const shape = [3, 5, 4, 6];
    const { cpu, wasm } = await onBothBackends(
      // Rounding to halves puts exact zeros among the inputs, where the gradient must be 0, not dy.
      [{ shape, seed: 21 }, { shape, seed: 22 }],
      (x, dy) => [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), dy!)))(tf.round(tf.mul(x!, 2))), tf.relu(x!)],
    );
    cpu.forEach((want, i) => assert.deepEqual(Array.from(wasm[i]!), Array.from(want), `result ${i}`));
    assert.ok(cpu[0]!.some((v) => v === 0) && cpu[0]!.some((v) => v !== 0), 'the case has both kinds of element');
    assert.ok(seededValues(sizeOf(shape), 21).some((v) => Math.round(2 * v) === 0), 'some inputs are exactly 0');
    const x = tf.tensor(seededValues(64, 23), [64]);
    const { kernelNames } = await tf.profile(() => tf.grad((a: tf.Tensor) => tf.sum(tf.relu(a)))(x));
    assert.ok(kernelNames.includes('TemperReluGrad'), kernelNames.join());
    assert.ok(!kernelNames.includes('Step'), kernelNames.join());
    x.dispose();
  });

  // The ReLU gradient fused into the max-pool gradient (TemperMaxPoolGradRelu). Half-integer inputs and filter make
  // exact zeros and ties common, so windows whose maximum is 0 (where the plain max-pool gradient routes dy and the
  // ReLU gradient then zeroes it) are there; dy of both signs makes -0 there too.
  const reluPoolCases: Array<{ x: Shape4; size: number; stride: number; pad: 'valid' | 'same'; filters: number }> = [
    { x: [2, 8, 6, 3], size: 2, stride: 2, pad: 'valid', filters: 8 },
    { x: [2, 7, 7, 2], size: 3, stride: 2, pad: 'same', filters: 3 },
  ];
  for (const p of reluPoolCases) {
    it(`the max pool after a ReLU conv takes the ReLU gradient into its own: the unfused values, one pass fewer (${p.size}x${p.size}/${p.stride}, ${p.filters} channels)`, async () => {
      await tf.setBackend('wasm');
      const half = (shape: number[], seed: number) => tf.tensor(seededValues(sizeOf(shape), seed).map((v) => Math.round(v * 4) / 2), shape);
      const x = half(p.x, 41);
      const w = half([3, 3, p.x[3], p.filters], 42);
      const b = half([p.filters], 43);
      const poolShape = tf.backend_util.computePool2DInfo([p.x[0], p.x[1], p.x[2], p.filters], p.size, p.stride, 1, p.pad).outShape;
      const dy = half(poolShape, 44);
      const conv = (a: tf.Tensor, q: tf.Tensor, r: tf.Tensor, activation: string) => tf.engine().runKernel('TemperFusedConv2D', { x: a, filter: q, bias: r },
        { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
      const pool = (y: tf.Tensor4D) => tf.maxPool(y, p.size, p.stride, p.pad);
      // Fused: the pool reads the conv's ReLU output. Unfused: a separate Relu, whose output is not a ReLU kernel's.
      const fused = (a: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.sum(tf.mul(pool(conv(a, q, r, 'relu')), dy));
      const unfused = (a: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.sum(tf.mul(pool(tf.relu(conv(a, q, r, 'linear'))), dy));
      const plain = (t: tf.Tensor) => Array.from(t.dataSync(), (v) => v + 0);
      const want = tf.grads(unfused)([x, w, b]);
      const got = tf.grads(fused)([x, w, b]);
      got.forEach((g, i) => assert.deepEqual(plain(g), plain(want[i]!), `gradient ${i}`));
      const names = async (f: typeof fused) => (await tf.profile(() => tf.grads(f)([x, w, b]))).kernelNames;
      const [fusedNames, unfusedNames] = [await names(fused), await names(unfused)];
      assert.ok(fusedNames.includes('TemperMaxPoolGradRelu') && !fusedNames.includes('TemperReluGrad') && !fusedNames.includes('MaxPoolGrad'), fusedNames.join());
      assert.ok(unfusedNames.includes('MaxPoolGrad') && unfusedNames.includes('TemperReluGrad'), unfusedNames.join());
      // 2x2/2 (the SIMD kernel): the conv's bias gradient is the pool gradient's channel sums, no Sum over dz (the
      // loss's own Sum stays). Half-integers keep the sums exact, so the bits above match in any order.
      const sums = async (f: typeof fused) => (await tf.profile(() => tf.grads(f)([x, w, b]))).kernels.filter((k) => k.name === 'Sum').length;
      const [fusedSums, unfusedSums] = [await sums(fused), await sums(unfused)];
      assert.ok(unfusedSums >= 2, `Sum ran ${unfusedSums} times`);
      assert.equal(fusedSums, unfusedSums - (p.size === 2 ? 1 : 0));

      // A ReLU output made outside the function gets the plain max-pool gradient, routed to zeros too: it is what was asked for.
      const y = conv(x, w, b, 'relu');
      const atY = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a as tf.Tensor4D), dy)))(y);
      const plainPool = tf.engine().runKernel(tf.MaxPoolGrad, { dy, input: y, output: pool(y) }, { filterSize: p.size, strides: p.stride, pad: p.pad } as unknown as tf.NamedAttrMap) as tf.Tensor;
      assert.deepEqual(plain(atY), plain(plainPool));
      const masked = tf.engine().runKernel('TemperMaxPoolGradRelu', { dy, input: y, output: pool(y) }, { filterSize: p.size, strides: p.stride, pad: p.pad } as unknown as tf.NamedAttrMap) as tf.Tensor;
      assert.notDeepEqual(plain(masked), plain(plainPool), 'the case has windows whose maximum is 0, where the two differ');

      // A gradient taken inside a function being differentiated, at a ReLU output that function made: the plain one.
      let nested: tf.Tensor | undefined;
      const outer = tf.grad((a: tf.Tensor) => {
        const inner = conv(a, w, b, 'relu');
        nested = tf.keep(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(pool(t as tf.Tensor4D), dy)))(inner));
        assert.deepEqual(plain(nested), plain(tf.engine().runKernel(tf.MaxPoolGrad, { dy, input: inner, output: pool(inner) },
          { filterSize: p.size, strides: p.stride, pad: p.pad } as unknown as tf.NamedAttrMap) as tf.Tensor), 'a nested gradient');
        return tf.sum(inner);
      })(x);
      tf.dispose([outer, nested!]);

      // A ReLU output with a second reader: its gradient is a sum, and the ReLU gradient is applied to that as usual.
      const dy2 = half([p.x[0], p.x[1], p.x[2], p.filters], 45);
      const twoReaders = (relu: boolean) => (a: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => {
        const out = relu ? conv(a, q, r, 'relu') : tf.relu(conv(a, q, r, 'linear'));
        return tf.add(tf.sum(tf.mul(pool(out), dy)), tf.sum(tf.mul(out, dy2)));
      };
      const wantTwo = tf.grads(twoReaders(false))([x, w, b]);
      tf.grads(twoReaders(true))([x, w, b]).forEach((g, i) => assert.deepEqual(plain(g), plain(wantTwo[i]!), `two readers, gradient ${i}`));

      // No tensor left behind by either path.
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) tf.tidy(() => void tf.grads(fused)([x, w, b]));
      assert.equal(tf.memory().numTensors, before);
      tf.dispose([x, w, b, dy, dy2, ...want, ...got, ...wantTwo, y, atY, plainPool, masked]);
    });
  }

  it('pools a ReLU first layer made ahead are held for the MaxPool that reads it, at most POOLED_AHEAD_MAX of them', async () => {
    await tf.setBackend('wasm');
    const { pooledAheadCount, POOLED_AHEAD_MAX } = await import('../src/backend/kernels/max-pool-grad.js');
    const image = tf.tensor(seededValues(2 * 8 * 8, 51), [2, 8, 8, 1]);
    const filter = tf.tensor(seededValues(9 * 8, 52), [3, 3, 1, 8]);
    const conv = (activation: string) => tf.engine().runKernel('TemperFusedConv2D', { x: image, filter },
      { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const [held, ids] = [pooledAheadCount(), backend.numDataIds()];
    // Outputs no MaxPool reads: the oldest pools are freed.
    const outputs = Array.from({ length: 5 }, () => conv('relu'));
    assert.equal(pooledAheadCount(), POOLED_AHEAD_MAX);
    assert.ok(backend.numDataIds() <= ids + outputs.length + POOLED_AHEAD_MAX, `${backend.numDataIds()} buffers from ${ids}`);
    // The newest one's pool is taken by its MaxPool; a linear layer pools nothing ahead.
    const pooled = tf.maxPool(outputs[4]!, 2, 2, 'valid');
    assert.equal(pooledAheadCount(), POOLED_AHEAD_MAX - 1);
    const linear = conv('linear');
    assert.equal(pooledAheadCount(), POOLED_AHEAD_MAX - 1);
    assert.ok(held <= POOLED_AHEAD_MAX);
    tf.dispose([image, filter, pooled, linear, ...outputs]);
  });

  it('Slice reads its input in place and gives the cpu backend\'s values: ranks 1 to 5, float32, int32 and bool, whole rows and strided', async () => {
    assert.ok(registered.includes(tf.Slice));
    const cases: Array<{ shape: number[]; begin: number[]; size: number[] }> = [
      { shape: [100352], begin: [0], size: [1] },
      { shape: [7, 9], begin: [2, 3], size: [4, -1] },
      { shape: [4, 65, 12], begin: [0, 0, 0], size: [-1, 1, -1] },
      { shape: [3, 5, 6, 4], begin: [1, 2, 0, 1], size: [2, 3, 6, 2] },
      { shape: [3, 4, 1, 5, 2], begin: [0, 1, 0, 2, 0], size: [3, 2, 1, 3, 2] },
      { shape: [3, 4, 5], begin: [1, 0, 0], size: [2, 4, 5] },
      { shape: [6, 5], begin: [3, 2], size: [0, 2] },
    ];
    for (const c of cases) {
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const values = seededValues(sizeOf(c.shape), 61).map((v) => (dtype === 'float32' ? v : dtype === 'int32' ? Math.round(v * 1000) : +(v > 0)));
        const run = () => {
          const x = tf.tensor(values, c.shape, dtype);
          const y = tf.slice(x, c.begin, c.size);
          const result = { shape: y.shape, values: Array.from(y.dataSync()) };
          tf.dispose([x, y]);
          return result;
        };
        await tf.setBackend('cpu');
        const want = run();
        await tf.setBackend('wasm');
        assert.deepEqual(run(), want, `${JSON.stringify(c)} ${dtype}`);
      }
    }
  });

  it('the fused L-infinity step gives the bits of the eleven kernels it replaces: zeros, -0, NaN and tiny gradients, values outside [0, 1], a ragged tail', async () => {
    await tf.setBackend('wasm');
    assert.ok(registered.includes('TemperLinfStep'));
    const n = 4 * 9 * 7 * 3 + 2;
    const g = seededValues(n, 51).map((v, i) => (i % 7 === 0 ? 0 : i % 11 === 0 ? -0 : i % 13 === 0 ? NaN : i % 5 === 0 ? v * 1e-30 : v));
    const clean = seededValues(n, 52).map((v) => (v + 1) / 2);
    const x = clean.map((v, i) => (i % 17 === 0 ? -0 : v + seededValues(n, 53)[i]! * 0.1 - (i % 19 === 0 ? 0.5 : 0) + (i % 23 === 0 ? 0.5 : 0)));
    const shape: [number, number, number, number] = [n, 1, 1, 1];
    const [xt, gt, ct] = [tf.tensor4d(x, shape), tf.tensor4d(g, shape), tf.tensor4d(clean, shape)];
    for (const [stepSize, eps] of [[0.3 / 40, 0.3], [2 / 255, 8 / 255], [0.1, 0.05]]) {
      const composed = tf.tidy(() => projectLinf(tf.add(xt, tf.mul(exactSign(gt), stepSize)), ct, eps));
      const fused = linfStep(xt, gt, ct, stepSize!, eps!);
      assert.equal(bits(fused.dataSync() as Float32Array), bits(composed.dataSync() as Float32Array), `step ${stepSize}, eps ${eps}`);
      const { kernelNames } = await tf.profile(() => linfStep(xt, gt, ct, stepSize!, eps!));
      assert.deepEqual(kernelNames, ['TemperLinfStep']);
      // With the SIMD kernels off the kernel's JavaScript path runs: the same bits.
      process.env['TEMPER_NO_SIMD_KERNELS'] = '1';
      try {
        const scalar = linfStep(xt, gt, ct, stepSize!, eps!);
        assert.equal(bits(scalar.dataSync() as Float32Array), bits(composed.dataSync() as Float32Array), `no SIMD: step ${stepSize}, eps ${eps}`);
        scalar.dispose();
      } finally {
        delete process.env['TEMPER_NO_SIMD_KERNELS'];
      }
      tf.dispose([composed, fused]);
    }
    // Elsewhere (cpu) the same function composes the ops.
    await tf.setBackend('cpu');
    const cpu = linfStep(tf.tensor4d(x, shape), tf.tensor4d(g, shape), tf.tensor4d(clean, shape), 0.1, 0.05);
    const values = cpu.dataSync();
    await tf.setBackend('wasm');
    const wasm = linfStep(xt, gt, ct, 0.1, 0.05).dataSync();
    assert.deepEqual(Array.from(wasm, (v) => v + 0), Array.from(values, (v) => v + 0));
    tf.dispose([xt, gt, ct]);
  });

  for (const products of PRODUCTS) it(`the wasm transposed matMul and leading-axes sum equal the cpu backend's (${products.label})`, async () => {
    const { cpu, wasm } = await withGemm(products.env, () => onBothBackends(
      [{ shape: [2, 5, 3], seed: 9 }, { shape: [2, 4, 5], seed: 10 }, { shape: [6, 4, 3], seed: 11 }, { shape: [2, 9, 8], seed: 24 }, { shape: [2, 6, 9], seed: 25 }],
      (a, b, c, d, e) => [
        tf.matMul(a!, b!, true, true), tf.matMul(b!, a!), tf.sum(c!, [0, 1]), tf.sum(c!, [0, 1], true), tf.sum(c!, 2),
        // Operands big enough for whole 4x4 transpose tiles plus edges.
        tf.matMul(d!, e!, true, true), tf.matMul(e!, d!, false, false), tf.matMul(d!, d!, true, false),
        // Only b transposed and larger than a: computed as (b a^T)^T, batched and not.
        tf.matMul(tf.slice(e!, [0, 0, 0], [1, 2, 9]), d!.reshape([1, 18, 8]).slice([0, 0, 0], [1, 18, 8]).transpose([0, 2, 1]).slice([0, 0, 0], [1, 8, 9]), false, true),
        tf.matMul(tf.reshape(tf.slice(e!, [0, 0, 0], [1, 4, 9]), [4, 9]), tf.reshape(d!, [16, 9]), false, true),
        // Batches of matrices, one matrix at a time on views: equal batches, one against many either way, rank 4.
        tf.matMul(tf.reshape(d!, [2, 2, 4, 9]), tf.reshape(e!, [2, 2, 9, 3])), tf.matMul(tf.slice(b!, [0, 0, 0], [1, 4, 5]), a!),
        tf.matMul(d!, tf.slice(d!, [0, 0, 0], [1, 6, 8]), false, true),
      ],
    ));
    cpu.forEach((want, i) => assertClose(wasm[i]!, want, 24, `result ${i}`));
  });

  it('the gradient through tf.fused.conv2d with bias and relu equals the cpu backend\'s', async () => {
    const x: Shape4 = [4, 9, 9, 3];
    const { cpu, wasm } = await onBothBackends(
      [{ shape: x, seed: 12 }, { shape: [3, 3, 3, 8], seed: 13 }, { shape: [8], seed: 14 }],
      (a, w, bias) =>
        tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
          tf.sum(tf.square(tf.fused.conv2d({ x: p as tf.Tensor4D, filter: q as tf.Tensor4D, bias: r, strides: 2, pad: 'same', activation: 'relu' }))),
        )([a!, w!, bias!]),
    );
    cpu.forEach((want, i) => assertClose(wasm[i]!, want, 4 * 5 * 5 * 8, `gradient ${i}`));
  });

  for (const [activation, stride, withBias] of [['relu', 1, true], ['linear', 2, false], ['relu', 2, true]] as const) {
    it(`TemperFusedConv2D (${activation}, stride ${stride}${withBias ? ', bias' : ''}) has the gradients of conv + bias + activation, each only when asked for`, async () => {
      const attrs = { strides: [stride, stride], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined, activation };
      const outShape = tf.backend_util.computeConv2DInfo([3, 9, 9, 3], [3, 3, 3, 8], stride, 1, 'same').outShape;
      const { cpu, wasm } = await onBothBackends(
        [{ shape: [3, 9, 9, 3], seed: 31 }, { shape: [3, 3, 3, 8], seed: 32 }, { shape: [8], seed: 33 }, { shape: outShape, seed: 34 }],
        (x, w, b, dy) => {
          // wasm: the fused kernel; cpu (which has none): the composition it must equal.
          const forward = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor): tf.Tensor => {
            if (tf.getBackend() === 'wasm') {
              return tf.engine().runKernel('TemperFusedConv2D', withBias ? { x: p, filter: q, bias: r } : { x: p, filter: q }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
            }
            const z = tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, stride, 'same');
            const biased = withBias ? tf.add(z, r) : z;
            return activation === 'relu' ? tf.relu(biased) : biased;
          };
          const loss = (p: tf.Tensor, q: tf.Tensor, r?: tf.Tensor) => tf.sum(tf.mul(forward(p, q, r ?? b!), dy!));
          return [forward(x!, w!, b!), ...(withBias ? tf.grads(loss)([x!, w!, b!]) : tf.grads(loss)([x!, w!]))];
        },
      );
      cpu.forEach((want, i) => assertClose(wasm[i]!, want, 3 * 9 * 9 * 8, `result ${i}`));
      await tf.setBackend('wasm');
      const x = tf.tensor4d(seededValues(3 * 9 * 9 * 3, 35), [3, 9, 9, 3]);
      const w = tf.tensor4d(seededValues(3 * 3 * 3 * 8, 36), [3, 3, 3, 8]);
      const info = await tf.profile(() => tf.grad((p: tf.Tensor) => tf.sum(tf.engine().runKernel('TemperFusedConv2D', { x: p, filter: w }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor))(x));
      const names = info.kernels.map((k) => k.name);
      assert.ok(names.includes('Conv2DBackpropInput') && !names.includes('Conv2DBackpropFilter'), names.join());
      tf.dispose([x, w]);
    });
  }

  it('a tf.layers.conv2d model with an activation trains on wasm', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const images = tf.tensor4d(seededValues(32 * 64, 15), [32, 8, 8, 1]);
    const labels = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 2), 'int32'), 2);
    const history = await model.fit(images, labels, { epochs: 20, batchSize: 32, verbose: 0 });
    const losses = history.history['loss'] as number[];
    assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
    assert.ok(losses.at(-1)! < losses[0]! * 0.9, `loss went from ${losses[0]} to ${losses.at(-1)}`);
    tf.dispose([images, labels]);
    model.dispose();
  });

  it('leaks no tensor and no wasm buffer over 50 gradient computations', () => {
    const x = tf.tensor4d(seededValues(4 * 10 * 10 * 3, 16), [4, 10, 10, 3]);
    const w = tf.tensor4d(seededValues(3 * 3 * 3 * 8, 17), [3, 3, 3, 8]);
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const loss = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.maxPool(tf.fused.conv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, strides: [2, 1], pad: 'same', activation: 'relu' }), 2, 2, 'valid'));
    const step = (): void => tf.tidy(() => void tf.grads(loss)([x, w]));
    step();
    const tensorsBefore = tf.memory().numTensors;
    const buffersBefore = backend.numDataIds();
    for (let i = 0; i < 50; i++) step();
    assert.equal(tf.memory().numTensors, tensorsBefore);
    assert.equal(backend.numDataIds(), buffersBefore);
    tf.dispose([x, w]);
  });

  it('a batch of matrix products leaves no wasm buffer behind (its per-matrix views included)', () => {
    const a = tf.tensor3d(seededValues(6 * 5 * 4, 30), [6, 5, 4]);
    const b = tf.tensor3d(seededValues(6 * 7 * 4, 31), [6, 7, 4]);
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const step = (): void => tf.tidy(() => void tf.matMul(tf.matMul(a, b, false, true), tf.slice(b, [0, 0, 0], [1, 7, 4])));
    step();
    const buffersBefore = backend.numDataIds();
    for (let i = 0; i < 20; i++) step();
    assert.equal(backend.numDataIds(), buffersBefore);
    tf.dispose([a, b]);
  });

  it('refuses NCHW data with a message that says what to do', () => {
    const x = tf.zeros([1, 3, 5, 5]);
    const dy = tf.zeros([1, 2, 5, 5]);
    assert.throws(
      () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 2] }),
      /dataFormat 'NHWC' only.*transpose/,
    );
    tf.dispose([x, dy]);
  });
});

// The 2x2/2 max-pool gradient split by output rows between the worker threads, in a process whose backend has them
// (this file's backend runs one thread): 105 output rows, so the shares are not whole images. Rounded inputs make ties.
const POOL_CHILD = `
import { createHash } from 'node:crypto';
const tf = await import(${JSON.stringify(TFJS_URL)});
const { initBackend } = await import(${JSON.stringify(distUrl('src/backend/index.js'))});
await initBackend('wasm');
${WAIT_FOR_WORKER_THREADS}
function values(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; a[i] = Math.round((s / 2 ** 31 - 1) * 4); }
  return a;
}
const shape = [7, 30, 34, 12];
const x = tf.tensor(values(7 * 30 * 34 * 12, 3), shape);
const dy = tf.tensor(values(7 * 15 * 17 * 12, 4).map((v) => v + 0.5), [7, 15, 17, 12]);
const gradient = () => tf.grad((a) => tf.sum(tf.mul(tf.maxPool(a, 2, 2, 'valid'), dy)))(x);
const dx = gradient();
await tf.setBackend('cpu');
const cpu = gradient();
const same = Buffer.from(dx.dataSync().buffer).equals(Buffer.from(cpu.dataSync().buffer));
await tf.setBackend('wasm');
// The ReLU gradient fused in, against the two passes (x's negative values stand for a ReLU output's zeros here).
const attrs = { filterSize: 2, strides: 2, pad: 'valid' };
const inputs = { dy, input: x, output: tf.maxPool(x, 2, 2, 'valid') };
const fused = tf.engine().runKernel('TemperMaxPoolGradRelu', inputs, attrs);
const twoPasses = tf.engine().runKernel('TemperReluGrad', { dy: tf.engine().runKernel('MaxPoolGrad', inputs, attrs), x });
const reluSame = Buffer.from(fused.dataSync().buffer).equals(Buffer.from(twoPasses.dataSync().buffer));
// Its channel sums (a ReLU conv's bias gradient) with a dy that float32 sums round, against float64 sums of the fused
// output, relative to the sum of magnitudes; their bits go into the hash, compared between thread counts.
const { knownChannelSums } = await import(${JSON.stringify(distUrl('src/backend/kernels/max-pool-grad.js'))});
const inexact = tf.engine().runKernel('TemperMaxPoolGradRelu', { ...inputs, dy: tf.tensor(values(7 * 15 * 17 * 12, 5).map((v) => v / 7 + 0.3), [7, 15, 17, 12]) }, attrs);
const sums = knownChannelSums(inexact);
const [exact, magnitude] = [new Float64Array(12), new Float64Array(12)];
inexact.dataSync().forEach((v, i) => { exact[i % 12] += v; magnitude[i % 12] += Math.abs(v); });
const sumsError = Math.max(...Array.from(exact, (v, c) => Math.abs(v - sums[c]) / magnitude[c]));
const rounded = sums.some((v, c) => v !== exact[c]);
// The max pool itself on the worker threads (max_pool_2x2, split by output rows), NaN and -0 in its input, against
// the cpu backend's.
const withNaN = tf.tensor(values(7 * 30 * 34 * 12, 6).map((v, i) => (i % 101 === 3 ? NaN : i % 53 === 1 ? -0 : v)), shape);
const wasmPool = tf.maxPool(withNaN, 2, 2, 'valid');
await tf.setBackend('cpu');
const cpuPool = tf.maxPool(tf.tensor(withNaN.dataSync(), shape), 2, 2, 'valid');
const poolSame = Buffer.from(wasmPool.dataSync().buffer).equals(Buffer.from(cpuPool.dataSync().buffer));
await tf.setBackend('wasm');
// A ReLU first layer (the direct convolution, 9 images: shares of 5 and 4 at 2 threads) pools its output ahead, and
// MaxPool takes that pool: the bits of pooling a copy of the output afterwards.
const image = tf.tensor(values(9 * 28 * 28, 7).map((v) => v / 4), [9, 28, 28, 1]);
const filter = tf.tensor(values(9 * 32, 8).map((v) => v / 8), [3, 3, 1, 32]);
const y = tf.engine().runKernel('TemperFusedConv2D', { x: image, filter, bias: tf.tensor(values(32, 9), [32]) },
  { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu' });
const { pooledAheadCount } = await import(${JSON.stringify(distUrl('src/backend/kernels/max-pool-grad.js'))});
const takenAhead = (output) => {
  const held = pooledAheadCount();
  const pool = tf.maxPool(output, 2, 2, 'valid');
  return { pool, taken: pooledAheadCount() === held - 1 };
};
const { pool: ahead, taken: directTaken } = takenAhead(y);
const afterwards = tf.maxPool(tf.mul(y, 1), 2, 2, 'valid');
// Likewise a ReLU Winograd layer (the fused path, F(4x4, 3x3) on 14x14 as cnn-small's second layer), pooled per group.
const wy = tf.engine().runKernel('TemperFusedConv2D', { x: tf.tensor(values(9 * 14 * 14 * 32, 10).map((v) => v / 8), [9, 14, 14, 32]),
  filter: tf.tensor(values(9 * 32 * 64, 11).map((v) => v / 16), [3, 3, 32, 64]), bias: tf.tensor(values(64, 12), [64]) },
  { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu' });
const { pool: winogradAhead, taken: winogradTaken } = takenAhead(wy);
const sameBits = (a, b) => Buffer.from(a.dataSync().buffer).equals(Buffer.from(b.dataSync().buffer));
const aheadSame = directTaken && winogradTaken && sameBits(ahead, afterwards) && sameBits(winogradAhead, tf.maxPool(tf.mul(wy, 1), 2, 2, 'valid'));
console.log(JSON.stringify({ threads: parallelThreads(instance), same, reluSame, sumsError, rounded, poolSame, aheadSame,
  hash: createHash('sha256').update(dx.dataSync()).update(fused.dataSync()).update(sums).update(wasmPool.dataSync()).update(ahead.dataSync())
  .update(winogradAhead.dataSync()).digest('hex') }));
`;

describe('the max-pool gradient on the worker threads', () => {
  it('gives the cpu backend\'s bits at 1 and 2 threads, and with the ReLU gradient fused in the two passes\' bits and their channel sums; so does the max pool, made ahead or not', () => {
    type Child = { threads: number; same: boolean; reluSame: boolean; sumsError: number; rounded: boolean; poolSame: boolean; aheadSame: boolean; hash: string };
    const one = runNodeScript<Child>(POOL_CHILD, { TEMPER_WASM_THREADS: '1' });
    const two = runNodeScript<Child>(POOL_CHILD, { TEMPER_WASM_THREADS: '2' });
    assert.deepEqual([one.threads, two.threads], [1, 2]);
    assert.ok(one.same && two.same, 'the wasm gradient is the cpu backend\'s');
    assert.ok(one.reluSame && two.reluSame, 'with the ReLU gradient fused in: the bits of the two passes');
    // Each row (17 windows) summed in float32, the 105 rows in float64: a few float32 roundings of the magnitudes at most.
    assert.ok(one.rounded, 'the case rounds, so the order of the sums shows in their bits');
    assert.ok(one.sumsError < 2 ** -20 && two.sumsError < 2 ** -20, `${one.sumsError} ${two.sumsError}`);
    assert.ok(one.poolSame && two.poolSame, 'the max pool is the cpu backend\'s, NaN and -0 included');
    assert.ok(one.aheadSame && two.aheadSame, 'the pools ReLU layers (direct and Winograd) made ahead are taken, and are the pools of their outputs');
    assert.equal(two.hash, one.hash);
  });
});
