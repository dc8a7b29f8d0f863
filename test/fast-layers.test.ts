import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/index.js';
import { FastBatchNormalization, FastConv2D, FastDense } from '../src/models/fast-layers.js';
import { loadModel, saveModel } from '../src/models/index.js';
import { batchNorm, conv, relu } from '../src/models/blocks.js';
import { seededInitializers } from '../src/models/init.js';
import { BENCH_MODEL_SPECS } from '../src/bench/models.js';
import { disposeOptimizer } from '../src/train/optimizers.js';
import { seededValues, tempDir } from './helpers.js';

const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Each element within `relative` of the reference, relative to the larger of its own magnitude and the reference's
 * root mean square (so elements near 0, where a gradient is a difference of large terms, are judged on its scale).
 */
function assertClose(got: Float32Array, want: Float32Array, relative: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const rms = Math.sqrt(want.reduce((sum, v) => sum + v * v, 0) / want.length);
  for (let i = 0; i < want.length; i++) {
    const tolerance = relative * Math.max(Math.abs(want[i]!), rms);
    const error = Math.abs(got[i]! - want[i]!);
    if (!(error <= tolerance)) assert.fail(`${what}: element ${i} is ${got[i]}, the stock layer gives ${want[i]} (error ${error} > ${tolerance})`);
  }
}

function assertSameBytes(got: Float32Array, want: Float32Array, what: string): void {
  assert.ok(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength)), `${what}: not bit-identical`);
}

const read = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;

/** The values of a layer's output, which is then freed. */
function take(output: tf.Tensor | tf.Tensor[] | tf.SymbolicTensor | tf.SymbolicTensor[]): Float32Array {
  const t = output as tf.Tensor;
  const values = read(t);
  t.dispose();
  return values;
}

/** The stock tfjs-layers classes (as tf.layers builds them). */
const stockBatchNorm = (args: ConstructorParameters<typeof FastBatchNormalization>[0]) => tf.layers.batchNormalization(args);
const stockConv2d = (args: ConstructorParameters<typeof FastConv2D>[0]) => tf.layers.conv2d(args);

type BatchNormLayer = ReturnType<typeof stockBatchNorm>;
type BatchNormArgs = NonNullable<ConstructorParameters<typeof FastBatchNormalization>[0]>;

interface BatchNormResults {
  inference: Float32Array;
  training: Float32Array;
  dx: Float32Array;
  dgamma: Float32Array | null;
  dbeta: Float32Array | null;
  movingMean: Float32Array;
  movingVariance: Float32Array;
}

/** A layer's variable by weight name (gamma, beta, moving_mean, moving_variance). */
function weight(layer: tf.layers.Layer, name: string): tf.Variable | null {
  const found = layer.weights.find((w) => w.originalName === name || w.originalName.endsWith(`/${name}`));
  return found ? (found.read() as tf.Variable) : null;
}

/**
 * On the current backend: build `layer` for `shape`, set its weights, then take, in this order, the inference-mode
 * output of x1, the training-mode output of x1 (moving update 1), the gradients of sum(y * w) w.r.t. x, gamma and
 * beta in training mode (update 2), a training-mode call on x2 (update 3), and the moving mean and variance.
 */
function runBatchNorm(layer: BatchNormLayer, shape: number[], initial: { gamma?: Float32Array; beta?: Float32Array }): BatchNormResults {
  const size = sizeOf(shape);
  layer.build(shape);
  const channels = weight(layer, 'moving_mean')!.shape[0]!;
  const initialWeights: Record<string, Float32Array> = {
    ...initial,
    moving_mean: seededValues(channels, 13, 0.1),
    moving_variance: seededValues(channels, 14, 0.5, 1),
  };
  tf.tidy(() => {
    for (const [name, values] of Object.entries(initialWeights)) weight(layer, name)?.assign(tf.tensor1d(values));
  });
  // Inputs with means away from 0 (0.5, then -1), as after a ReLU, and a different spread in the third call.
  const x1 = tf.tensor(seededValues(size, 1, 2, 0.5), shape);
  const x2 = tf.tensor(seededValues(size, 2, 3, -1), shape);
  const dyWeights = tf.tensor(seededValues(size, 3), shape);
  const inference = take(layer.apply(x1, { training: false }));
  const training = take(layer.apply(x1, { training: true }));
  const xVariable = tf.variable(x1, true);
  const gamma = weight(layer, 'gamma');
  const beta = weight(layer, 'beta');
  const wrt = [xVariable, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(xVariable, { training: true }) as tf.Tensor, dyWeights)), wrt);
  take(layer.apply(x2, { training: true }));
  const results: BatchNormResults = {
    inference,
    training,
    dx: read(grads[xVariable.name]!),
    dgamma: gamma ? read(grads[gamma.name]!) : null,
    dbeta: beta ? read(grads[beta.name]!) : null,
    movingMean: read(weight(layer, 'moving_mean')!),
    movingVariance: read(weight(layer, 'moving_variance')!),
  };
  tf.dispose([x1, x2, dyWeights, xVariable, value, ...Object.values(grads)]);
  layer.weights.forEach((w) => w.dispose());
  return results;
}

async function onBackend<T>(name: 'cpu' | 'wasm', run: () => T): Promise<T> {
  await tf.setBackend(name);
  return run();
}

const BN_ARGS: BatchNormArgs = { momentum: 0.9, epsilon: 1e-5 };
const BN_SHAPES = [
  [1, 5, 4, 3],
  [4, 6, 5, 8],
  [16, 7],
  // wasm's training-mode kernels in several blocks of rows, the last one shorter (blockRows(16) is 1024: 3240 rows).
  [40, 9, 9, 16],
];

function initialGammaBeta(channels: number): { gamma: Float32Array; beta: Float32Array } {
  return { gamma: seededValues(channels, 11, 0.5, 1), beta: seededValues(channels, 12) };
}

function compareBatchNorm(got: BatchNormResults, want: BatchNormResults, what: string): void {
  assertClose(got.training, want.training, 1e-4, `${what}: training-mode output`);
  assertClose(got.dx, want.dx, 1e-4, `${what}: input gradient`);
  if (want.dgamma) assertClose(got.dgamma!, want.dgamma, 1e-4, `${what}: gamma gradient`);
  if (want.dbeta) assertClose(got.dbeta!, want.dbeta, 1e-4, `${what}: beta gradient`);
  assertClose(got.movingMean, want.movingMean, 1e-4, `${what}: moving mean after 3 training calls`);
  assertClose(got.movingVariance, want.movingVariance, 1e-4, `${what}: moving variance after 3 training calls`);
}

describe('FastBatchNormalization against tfjs-layers BatchNormalization', () => {
  before(() => initBackend('wasm'));
  after(() => tf.setBackend('wasm'));

  for (const shape of BN_SHAPES) {
    it(`matches the stock layer on cpu and on wasm, training and inference: x [${shape}]`, async () => {
      const initial = initialGammaBeta(shape.at(-1)!);
      const stockCpu = await onBackend('cpu', () => runBatchNorm(stockBatchNorm(BN_ARGS), shape, initial));
      const fastCpu = await onBackend('cpu', () => runBatchNorm(new FastBatchNormalization(BN_ARGS), shape, initial));
      compareBatchNorm(fastCpu, stockCpu, 'cpu');
      assertSameBytes(fastCpu.inference, stockCpu.inference, 'cpu inference-mode output');
      const fastWasm = await onBackend('wasm', () => runBatchNorm(new FastBatchNormalization(BN_ARGS), shape, initial));
      compareBatchNorm(fastWasm, stockCpu, 'wasm vs stock on cpu');
      const stockWasmInference = await onBackend('wasm', () => {
        const layer = stockBatchNorm(BN_ARGS);
        return runBatchNorm(layer, shape, initial).inference;
      });
      assertSameBytes(fastWasm.inference, stockWasmInference, 'wasm inference-mode output');
      // The moving averages moved (so comparing them says something) and the gradients are not trivially 0.
      assert.ok(Math.abs(stockCpu.movingMean[0]! - seededValues(1, 13, 0.1)[0]!) > 1e-3, 'moving mean moved');
      assert.ok(stockCpu.dx.some((v) => Math.abs(v) > 1e-2), 'input gradient is not 0');
    });
  }

  it('trains without gamma and beta (scale: false, center: false) as the stock layer with gamma 1 and beta 0', async () => {
    const shape = [3, 4, 4, 5];
    const stock = await onBackend('cpu', () => runBatchNorm(stockBatchNorm(BN_ARGS), shape, {}));
    const bare = new FastBatchNormalization({ ...BN_ARGS, scale: false, center: false });
    const fast = await onBackend('wasm', () => runBatchNorm(bare, shape, {}));
    assert.deepEqual(bare.weights.map((w) => w.originalName.split('/').at(-1)), ['moving_mean', 'moving_variance']);
    compareBatchNorm(fast, { ...stock, dgamma: null, dbeta: null }, 'scale and center false');
    assert.equal(fast.dgamma, null);
  });

  it('keeps the stock code for an axis other than the last', async () => {
    await tf.setBackend('wasm');
    const shape = [2, 3, 4, 5];
    const x = tf.tensor(seededValues(sizeOf(shape), 4, 2, 0.5), shape);
    const [stock, fast] = [stockBatchNorm({ ...BN_ARGS, axis: 1 }), new FastBatchNormalization({ ...BN_ARGS, axis: 1 })];
    const outputs = [stock, fast].map((layer) => {
      layer.build(shape);
      const training = take(layer.apply(x, { training: true }));
      return { training, moving: read(weight(layer, 'moving_variance')!), inference: take(layer.apply(x, { training: false })) };
    });
    for (const key of ['training', 'moving', 'inference'] as const) assertSameBytes(outputs[1]![key], outputs[0]![key], key);
    [...stock.weights, ...fast.weights].forEach((w) => w.dispose());
    x.dispose();
  });

  it('has the stock class name, configuration and weight names in the same order', () => {
    const fast = new FastBatchNormalization(BN_ARGS);
    const stock = stockBatchNorm(BN_ARGS);
    fast.build([2, 4, 4, 6]);
    stock.build([2, 4, 4, 6]);
    assert.equal(fast.getClassName(), 'BatchNormalization');
    assert.deepEqual({ ...fast.getConfig(), name: '' }, { ...stock.getConfig(), name: '' });
    assert.deepEqual(
      fast.weights.map((w) => w.originalName.split('/').at(-1)),
      stock.weights.map((w) => w.originalName.split('/').at(-1)),
    );
    [...fast.weights, ...stock.weights].forEach((w) => w.dispose());
  });
});

/** TEMPER_STOCK_KERNELS=1 while `run` runs (restored after, also when it throws). */
async function withStockKernels<T>(run: () => Promise<T> | T): Promise<T> {
  const previous = process.env['TEMPER_STOCK_KERNELS'];
  process.env['TEMPER_STOCK_KERNELS'] = '1';
  try {
    return await run();
  } finally {
    if (previous === undefined) delete process.env['TEMPER_STOCK_KERNELS'];
    else process.env['TEMPER_STOCK_KERNELS'] = previous;
  }
}

/** A stock BatchNormalization and a FastBatchNormalization with the same seeded gamma, beta and moving statistics. */
function batchNormPair(shape: number[], args: BatchNormArgs = BN_ARGS): { stock: BatchNormLayer; fast: BatchNormLayer; dispose(): void } {
  const [stock, fast] = [stockBatchNorm(args), new FastBatchNormalization(args)];
  stock.build(shape);
  fast.build(shape);
  const seeds: Record<string, [number, number, number]> = { gamma: [81, 0.5, 1], beta: [82, 0.3, 0], moving_mean: [83, 0.4, 0.2], moving_variance: [84, 0.5, 1] };
  tf.tidy(() => {
    for (const w of stock.weights) {
      const [seed, scale, shift] = seeds[w.originalName.split('/').at(-1)!]!;
      w.write(tf.tensor(seededValues(sizeOf(w.shape as number[]), seed, scale, shift), w.shape as number[]));
    }
  });
  fast.setWeights(stock.getWeights());
  return { stock, fast, dispose: () => [...stock.weights, ...fast.weights].forEach((w) => w.dispose()) };
}

interface InferenceGradient {
  kernels: string[];
  /** The layer's output, read inside the tape. */
  output: Float32Array;
  dx: Float32Array;
}

/** The input gradient of sum(layer(x, inference) * dy), profiled; the output is read while the tape records. */
async function inferenceInputGradient(layer: tf.layers.Layer, x: tf.Tensor, dy: tf.Tensor): Promise<InferenceGradient> {
  let output: Float32Array | undefined;
  const { kernels, result } = await profiled(() =>
    tf.grad((input: tf.Tensor) => {
      const y = layer.apply(input, { training: false }) as tf.Tensor;
      output = read(y).slice();
      return tf.sum(tf.mul(y, dy));
    })(x),
  );
  const dx = read(result as tf.Tensor);
  (result as tf.Tensor).dispose();
  return { kernels, output: output!, dx };
}

/**
 * Gradients of sum(layer(x, inference) * dy) w.r.t. x and every weight of the layer, moving statistics included
 * (made trainable for the call, as variableGrads skips the others), by weight name.
 */
function inferenceWeightGradients(layer: tf.layers.Layer, x: tf.Tensor, dy: tf.Tensor): Record<string, Float32Array> {
  const xVariable = tf.variable(x, true);
  const variables = layer.weights.map((w) => w.read() as tf.Variable);
  const trainable = variables.map((v) => v.trainable);
  variables.forEach((v) => (v.trainable = true));
  try {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(xVariable, { training: false }) as tf.Tensor, dy)), [xVariable, ...variables]);
    const result: Record<string, Float32Array> = { x: read(grads[xVariable.name]!) };
    layer.weights.forEach((w, i) => (result[w.originalName.split('/').at(-1)!] = read(grads[variables[i]!.name]!)));
    tf.dispose([value, xVariable, ...Object.values(grads)]);
    return result;
  } finally {
    variables.forEach((v, i) => (v.trainable = trainable[i]!));
  }
}

describe('FastBatchNormalization in inference mode under a gradient tape (an attack step)', () => {
  before(() => initBackend('wasm'));
  after(() => tf.setBackend('wasm'));

  const cases: Array<{ shape: number[] }> = [
    { shape: [4, 6, 5, 8] },
    { shape: [3, 5, 6] },
    { shape: [16, 7] },
  ];
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const { shape } of cases) {
      const label = `${backend}, x [${shape}]`;
      it(`${label}: the stock output bit for bit, the input gradient without Tile, the stock weight gradients`, async () => {
        await tf.setBackend(backend);
        const { stock, fast, dispose } = batchNormPair(shape);
        const x = tf.tensor(seededValues(sizeOf(shape), 91, 2, 0.5), shape);
        const dy = tf.tensor(seededValues(sizeOf(shape), 92), shape);
        const want = await inferenceInputGradient(stock, x, dy);
        const got = await inferenceInputGradient(fast, x, dy);
        assertSameBytes(got.output, want.output, 'inference-mode output under a tape');
        assertSameBytes(take(fast.apply(x, { training: false })), want.output, 'inference-mode output outside a tape');
        assertClose(got.dx, want.dx, 1e-5, 'input gradient');
        assert.ok(want.dx.some((v) => Math.abs(v) > 1e-2), 'input gradient is not 0');
        // The stock gradient tiles 1 / sqrt(var + eps) and computes x - mean; the fast one does neither.
        assert.ok(want.kernels.includes('Tile') && want.kernels.includes('Sub'), `stock: ${want.kernels}`);
        assert.ok(!got.kernels.includes('Tile') && !got.kernels.includes('Sub'), `fast: ${got.kernels}`);
        // Gradients w.r.t. gamma, beta and the moving statistics in inference mode: tfjs-core's, so the same bits.
        const stockWeights = inferenceWeightGradients(stock, x, dy);
        const fastWeights = inferenceWeightGradients(fast, x, dy);
        assert.deepEqual(Object.keys(fastWeights), Object.keys(stockWeights));
        assert.equal(Object.keys(stockWeights).length, 5);
        for (const name of Object.keys(stockWeights)) {
          if (name === 'x') assertClose(fastWeights[name]!, stockWeights[name]!, 1e-5, 'input gradient with the weight gradients');
          else assertSameBytes(fastWeights[name]!, stockWeights[name]!, `gradient of ${name}`);
        }
        tf.dispose([x, dy]);
        dispose();
      });
    }
  }

  // The stock layer without gamma and beta fails under a tape in inference mode (tfjs-core 4.22 clones the missing
  // scale it saves for FusedBatchNorm's gradient), so the reference is the stock layer with gamma 1 and beta 0.
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: without gamma and beta (scale: false, center: false), the gradients of gamma 1 and beta 0`, async () => {
      await tf.setBackend(backend);
      const shape = [2, 3, 4, 5];
      const bareArgs = { ...BN_ARGS, scale: false, center: false };
      const { stock: stockBare, fast, dispose } = batchNormPair(shape, bareArgs);
      const { stock, dispose: disposeStock } = batchNormPair(shape);
      stock.setWeights([tf.ones([5]), tf.zeros([5]), ...stockBare.getWeights()]);
      const x = tf.tensor(seededValues(sizeOf(shape), 95, 2, 0.5), shape);
      const dy = tf.tensor(seededValues(sizeOf(shape), 96), shape);
      const got = await inferenceInputGradient(fast, x, dy);
      assertSameBytes(got.output, take(stockBare.apply(x, { training: false })), 'inference-mode output (the stock one outside a tape)');
      const want = await inferenceInputGradient(stock, x, dy);
      assertClose(got.dx, want.dx, 1e-5, 'input gradient');
      assert.ok(!got.kernels.includes('Tile'), `fast: ${got.kernels}`);
      const wantWeights = inferenceWeightGradients(stock, x, dy);
      const gotWeights = inferenceWeightGradients(fast, x, dy);
      assert.deepEqual(Object.keys(gotWeights), ['x', 'moving_mean', 'moving_variance']);
      for (const name of Object.keys(gotWeights)) assertClose(gotWeights[name]!, wantWeights[name]!, 1e-5, `gradient of ${name}`);
      tf.dispose([x, dy]);
      dispose();
      disposeStock();
    });
  }

  it('TEMPER_STOCK_KERNELS=1: the stock kernels and bits, in inference (under a tape) and in training mode', async () => {
    await tf.setBackend('wasm');
    const shape = [4, 6, 5, 8];
    const { stock, fast, dispose } = batchNormPair(shape);
    const x = tf.tensor(seededValues(sizeOf(shape), 93, 2, 0.5), shape);
    const dy = tf.tensor(seededValues(sizeOf(shape), 94), shape);
    const trainingGradient = (layer: tf.layers.Layer) =>
      profiled(() => tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, dy)))(x));
    // Inference first (training calls move the moving statistics). Without the variable, the fast paths, so the
    // comparisons below say something.
    const fastInference = await inferenceInputGradient(fast, x, dy);
    assert.ok(!fastInference.kernels.includes('Tile'), `fast: ${fastInference.kernels}`);
    const want = await inferenceInputGradient(stock, x, dy);
    const got = await withStockKernels(() => inferenceInputGradient(fast, x, dy));
    assert.ok(got.kernels.includes('Tile'), `with TEMPER_STOCK_KERNELS=1: ${got.kernels}`);
    assert.deepEqual(got.kernels, want.kernels);
    assertSameBytes(got.output, want.output, 'inference-mode output');
    assertSameBytes(got.dx, want.dx, 'inference-mode input gradient');
    const fastTraining = await trainingGradient(fast);
    const wantTraining = await trainingGradient(stock);
    assert.notDeepEqual(fastTraining.kernels, wantTraining.kernels);
    const gotTraining = await withStockKernels(() => trainingGradient(fast));
    assert.deepEqual(gotTraining.kernels, wantTraining.kernels);
    assertSameBytes(read(gotTraining.result as tf.Tensor), read(wantTraining.result as tf.Tensor), 'training-mode input gradient');
    tf.dispose([x, dy, fastTraining.result, wantTraining.result, gotTraining.result]);
    dispose();
  });
});

interface ConvCase {
  label: string;
  input: [number, number, number, number];
  args: NonNullable<ConstructorParameters<typeof FastConv2D>[0]>;
}

const CONV_CASES: ConvCase[] = [
  { label: 'vgg: 3x3 same, no bias, linear', input: [2, 8, 8, 3], args: { filters: 6, kernelSize: 3, padding: 'same', useBias: false } },
  { label: 'cnn-small: 3x3 valid, bias, relu', input: [2, 9, 9, 2], args: { filters: 5, kernelSize: 3, padding: 'valid', activation: 'relu' } },
  { label: '3x3 stride 2 same, bias, linear', input: [3, 9, 7, 4], args: { filters: 4, kernelSize: 3, strides: 2, padding: 'same' } },
];

/**
 * The kernels `f` runs and its result. tf.profile returns one shared object that its next call overwrites, so the
 * names are copied out at once.
 */
async function profiled(f: () => tf.TensorContainer): Promise<{ kernels: string[]; result: tf.TensorContainer }> {
  const info = await tf.profile(f);
  return { kernels: info.kernels.map((k) => k.name), result: info.result };
}

/** A stock Conv2D and a FastConv2D with the same seeded weights, built for `c.input`. */
function convPair(c: ConvCase): { stock: tf.layers.Layer; fast: tf.layers.Layer; dispose(): void } {
  const stock = stockConv2d(c.args);
  const fast = new FastConv2D(c.args);
  stock.build(c.input);
  fast.build(c.input);
  stock.weights.forEach((w, i) => {
    const values = seededValues(sizeOf(w.shape as number[]), 30 + i, 0.5);
    w.write(tf.tensor(values, w.shape as number[]));
  });
  fast.setWeights(stock.getWeights());
  return { stock, fast, dispose: () => [...stock.weights, ...fast.weights].forEach((w) => w.dispose()) };
}

describe('FastConv2D against tfjs-layers Conv2D', () => {
  before(() => initBackend('wasm'));
  after(() => tf.setBackend('wasm'));

  for (const backend of ['wasm', 'cpu'] as const) {
    for (const c of CONV_CASES) {
      it(`${backend}, ${c.label}: the same forward pass, an input gradient without filter gradient, the same training gradient`, async () => {
        await tf.setBackend(backend);
        const { stock, fast, dispose } = convPair(c);
        const x = tf.tensor(seededValues(sizeOf(c.input), 21), c.input);
        const outShape = tf.tidy(() => (stock.apply(x) as tf.Tensor).shape);
        const dy = tf.tensor(seededValues(sizeOf(outShape), 22), outShape);
        // Outside a tape both run the stock fused op.
        assertSameBytes(take(fast.apply(x)), take(stock.apply(x)), 'forward pass');
        // The input gradient (an attack step): no filter gradient in the fast layer, where the stock layer computes one.
        const inputGradient = (layer: tf.layers.Layer) => profiled(() => tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input) as tf.Tensor, dy)))(x));
        const stockInput = await inputGradient(stock);
        const fastInput = await inputGradient(fast);
        // The stock layer fuses a linear conv under a tape (with an activation, tfjs-core already splits it).
        if (c.args.activation === undefined) assert.ok(stockInput.kernels.includes(tf.Conv2DBackpropFilter), `stock: ${stockInput.kernels}`);
        assert.ok(!fastInput.kernels.includes(tf.Conv2DBackpropFilter), `fast: ${fastInput.kernels}`);
        assert.ok(fastInput.kernels.includes(tf.Conv2DBackpropInput), `fast: ${fastInput.kernels}`);
        assertClose(read(fastInput.result as tf.Tensor), read(stockInput.result as tf.Tensor), 1e-5, 'input gradient');
        if (backend === 'wasm') {
          // On wasm the conv, bias and activation stay one fused kernel under the tape, with the same bytes as outside it.
          assert.ok(fastInput.kernels.includes('TemperFusedConv2D'), `fast: ${fastInput.kernels}`);
          assert.ok(!fastInput.kernels.includes('Relu') && !fastInput.kernels.includes(tf.Conv2D), `fast: ${fastInput.kernels}`);
          let inside: tf.Tensor | undefined;
          tf.dispose(tf.grad((input: tf.Tensor) => tf.sum((inside = tf.keep(fast.apply(input) as tf.Tensor))))(x));
          assertSameBytes(take(inside!), take(fast.apply(x)), 'forward pass under a tape');
        }
        // A training step: gradients of the kernel (and bias) still there and the same.
        const trainingGradients = (layer: tf.layers.Layer) =>
          profiled(() => {
            const { value, grads } = tf.variableGrads(
              () => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, dy)),
              layer.trainableWeights.map((w) => w.read() as tf.Variable),
            );
            return [value, ...layer.trainableWeights.map((w) => grads[(w.read() as tf.Variable).name]!)];
          });
        const stockTraining = await trainingGradients(stock);
        const fastTraining = await trainingGradients(fast);
        assert.ok(fastTraining.kernels.includes(tf.Conv2DBackpropFilter), `fast: ${fastTraining.kernels}`);
        const stockGrads = stockTraining.result as tf.Tensor[];
        const fastGrads = fastTraining.result as tf.Tensor[];
        assert.equal(fastGrads.length, 1 + (c.args.useBias === false ? 1 : 2));
        stockGrads.forEach((want, i) => assertClose(read(fastGrads[i]!), read(want), 1e-5, i === 0 ? 'loss' : `gradient of ${stock.trainableWeights[i - 1]!.originalName}`));
        tf.dispose([x, dy, stockInput.result, fastInput.result, stockTraining.result, fastTraining.result]);
        dispose();
      });
    }
  }
});

describe('FastConv2D with TEMPER_STOCK_KERNELS=1', () => {
  before(() => initBackend('wasm'));
  after(() => tf.setBackend('wasm'));

  it('runs the stock fused conv under a tape: the filter gradient again, the same kernels and bits', async () => {
    await tf.setBackend('wasm');
    const c = CONV_CASES[0]!;
    assert.equal(c.args.activation, undefined, 'a linear conv, which the stock layer keeps fused under a tape');
    const { stock, fast, dispose } = convPair(c);
    const x = tf.tensor(seededValues(sizeOf(c.input), 23), c.input);
    const outShape = tf.tidy(() => (stock.apply(x) as tf.Tensor).shape);
    const dy = tf.tensor(seededValues(sizeOf(outShape), 24), outShape);
    const inputGradient = (layer: tf.layers.Layer) => profiled(() => tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input) as tf.Tensor, dy)))(x));
    const fastPath = await inputGradient(fast);
    assert.ok(!fastPath.kernels.includes(tf.Conv2DBackpropFilter), `fast: ${fastPath.kernels}`);
    const want = await inputGradient(stock);
    const got = await withStockKernels(() => inputGradient(fast));
    assert.ok(got.kernels.includes(tf.Conv2DBackpropFilter), `with TEMPER_STOCK_KERNELS=1: ${got.kernels}`);
    assert.deepEqual(got.kernels, want.kernels);
    assertSameBytes(read(got.result as tf.Tensor), read(want.result as tf.Tensor), 'input gradient');
    // Read at call time: unset again, the fast path again.
    const again = await inputGradient(fast);
    assert.deepEqual(again.kernels, fastPath.kernels);
    tf.dispose([x, dy, fastPath.result, want.result, got.result, again.result]);
    dispose();
  });
});

/** A small vgg-style net built from tf.layers directly (the stock classes): 2x conv-BN-relu, pool, conv-BN-relu, dense. */
function stockVggStyle(): tf.LayersModel {
  const init = seededInitializers(3, 'fast-layers-test');
  const input = tf.input({ shape: [8, 8, 3] });
  const convBnRelu = (x: tf.SymbolicTensor, filters: number, strides: number) => {
    const y = tf.layers.conv2d({ filters, kernelSize: 3, strides, padding: 'same', ...init.conv() }).apply(x) as tf.SymbolicTensor;
    return tf.layers.reLU().apply(tf.layers.batchNormalization(BN_ARGS).apply(y)) as tf.SymbolicTensor;
  };
  let x = convBnRelu(convBnRelu(input, 8, 1), 8, 1);
  x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = convBnRelu(x, 16, 2);
  const logits = tf.layers.dense({ units: 10, ...init() }).apply(tf.layers.flatten().apply(x)) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits });
}

/** Moves every BN layer's moving statistics, gamma and beta off their initial values, so inference is not the identity. */
function perturbBatchNorms(model: tf.LayersModel): void {
  model.layers.forEach((layer, i) => {
    if (layer.getClassName() !== 'BatchNormalization') return;
    const channels = layer.weights[0]!.shape[0]!;
    layer.setWeights([
      tf.tensor1d(seededValues(channels, 40 + i, 0.5, 1)),
      tf.tensor1d(seededValues(channels, 50 + i, 0.2)),
      tf.tensor1d(seededValues(channels, 60 + i, 0.3)),
      tf.tensor1d(seededValues(channels, 70 + i, 0.5, 1)),
    ]);
  });
}

/** Both models' predictions on the same seeded images in [0, 1], byte for byte. */
function assertSamePredictions(got: tf.LayersModel, want: tf.LayersModel, shape: [number, number, number, number], seed: number): void {
  const images = tf.tensor4d(seededValues(sizeOf(shape), seed, 0.5, 0.5), shape);
  const [wanted, gotten] = [want.predict(images) as tf.Tensor, got.predict(images) as tf.Tensor];
  assertSameBytes(read(gotten), read(wanted), 'predictions');
  tf.dispose([images, wanted, gotten]);
}

describe('checkpoints across the stock and fast layers', () => {
  before(() => initBackend('wasm'));

  it('a model saved with the stock layers loads into the fast ones with the same weights and predictions', async () => {
    await tf.setBackend('wasm');
    const stock = stockVggStyle();
    perturbBatchNorms(stock);
    assert.ok(!stock.layers.some((l) => l instanceof FastBatchNormalization || l instanceof FastConv2D), 'built with the stock classes');
    const dir = tempDir('temper-fast-layers-');
    await saveModel(stock, dir);
    const loaded = await loadModel(dir);
    const classes = (model: tf.LayersModel, name: string) => model.layers.filter((l) => l.getClassName() === name);
    assert.equal(classes(loaded, 'BatchNormalization').length, 3);
    assert.ok(classes(loaded, 'BatchNormalization').every((l) => l instanceof FastBatchNormalization), 'BatchNormalization loads as FastBatchNormalization');
    assert.ok(classes(loaded, 'Conv2D').every((l) => l instanceof FastConv2D), 'Conv2D loads as FastConv2D');
    assert.deepEqual(loaded.weights.map((w) => w.originalName), stock.weights.map((w) => w.originalName));
    assertSamePredictions(loaded, stock, [4, 8, 8, 3], 5);
    stock.dispose();
    loaded.dispose();
  });

  it('a vgg6-bn built with the fast layers saves what the stock layers load', async () => {
    await tf.setBackend('wasm');
    const model = BENCH_MODEL_SPECS['vgg6-bn'].build(0);
    perturbBatchNorms(model);
    assert.ok(model.layers.some((l) => l instanceof FastBatchNormalization) && model.layers.some((l) => l instanceof FastConv2D), 'blocks build the fast layers');
    const dir = tempDir('temper-fast-layers-');
    await saveModel(model, dir);
    const stockClasses = [stockBatchNorm({}), stockConv2d({ filters: 1, kernelSize: 1 })].map((l) => l.constructor as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>);
    stockClasses.forEach((cls) => tf.serialization.registerClass(cls));
    let loaded: tf.LayersModel;
    try {
      loaded = await loadModel(dir);
    } finally {
      tf.serialization.registerClass(FastBatchNormalization);
      tf.serialization.registerClass(FastConv2D);
    }
    assert.ok(!loaded.layers.some((l) => l instanceof FastBatchNormalization || l instanceof FastConv2D), 'loaded with the stock classes');
    assert.deepEqual(loaded.weights.map((w) => w.originalName), model.weights.map((w) => w.originalName));
    assertSamePredictions(loaded, model, [2, 32, 32, 3], 6);
    model.dispose();
    loaded.dispose();
  });
});

describe('models built from blocks with the fast layers', () => {
  before(() => initBackend('wasm'));

  /** conv-BN-relu, conv(stride 2)-BN-relu, dense: with the project's blocks (fast layers) or with tf.layers (stock). */
  function smallNet(fast: boolean): tf.LayersModel {
    const init = seededInitializers(7, 'fast-layers-leak');
    const input = tf.input({ shape: [8, 8, 3] });
    const stockConv = (x: tf.SymbolicTensor, filters: number, strides: number) =>
      tf.layers.conv2d({ filters, kernelSize: 3, strides, padding: 'same', ...init.conv() }).apply(x) as tf.SymbolicTensor;
    const stockBn = (x: tf.SymbolicTensor) => tf.layers.batchNormalization(BN_ARGS).apply(x) as tf.SymbolicTensor;
    let x = fast ? relu(batchNorm(conv(init, input, 4, 3))) : relu(stockBn(stockConv(input, 4, 1)));
    x = fast ? relu(batchNorm(conv(init, x, 8, 3, 2))) : relu(stockBn(stockConv(x, 8, 2)));
    const logits = tf.layers.dense({ units: 3, ...init() }).apply(tf.layers.flatten().apply(x)) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: logits });
  }

  function batch(): { images: tf.Tensor4D; labels: tf.Tensor2D } {
    return tf.tidy(() => ({
      images: tf.tensor4d(seededValues(6 * 8 * 8 * 3, 8, 0.5, 0.5), [6, 8, 8, 3]),
      labels: tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), 3) as tf.Tensor2D,
    }));
  }

  const loss = (model: tf.LayersModel, images: tf.Tensor, labels: tf.Tensor, training: boolean) =>
    tf.losses.softmaxCrossEntropy(labels, model.apply(images, { training }) as tf.Tensor) as tf.Scalar;

  it('a training step on wasm gives the gradients of the same net built from stock layers on cpu', async () => {
    await tf.setBackend('cpu');
    const stock = smallNet(false);
    const { images, labels } = batch();
    const stockGrads = tf.variableGrads(() => loss(stock, images, labels, true), stock.trainableWeights.map((w) => w.read() as tf.Variable));
    const want = stock.trainableWeights.map((w) => read(stockGrads.grads[(w.read() as tf.Variable).name]!));
    const weights = stock.getWeights().map((t) => ({ values: read(t), shape: t.shape }));
    tf.dispose([images, labels, stockGrads.value, ...Object.values(stockGrads.grads)]);
    stock.dispose();
    await tf.setBackend('wasm');
    const fast = smallNet(true);
    fast.setWeights(weights.map(({ values, shape }) => tf.tensor(values, shape)));
    const inputs = batch();
    const fastGrads = tf.variableGrads(() => loss(fast, inputs.images, inputs.labels, true), fast.trainableWeights.map((w) => w.read() as tf.Variable));
    fast.trainableWeights.forEach((w, i) => assertClose(read(fastGrads.grads[(w.read() as tf.Variable).name]!), want[i]!, 1e-4, `gradient of ${w.originalName}`));
    tf.dispose([inputs.images, inputs.labels, fastGrads.value, ...Object.values(fastGrads.grads)]);
    fast.dispose();
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: the inference-mode input gradient of the net matches the stock layers', without a Tile`, async () => {
      await tf.setBackend(backend);
      const stock = smallNet(false);
      const fast = smallNet(true);
      perturbBatchNorms(stock);
      fast.setWeights(stock.getWeights());
      const { images, labels } = batch();
      const inputGradient = (model: tf.LayersModel) => profiled(() => tf.grad((x: tf.Tensor) => loss(model, x, labels, false))(images));
      const want = await inputGradient(stock);
      const got = await inputGradient(fast);
      assert.ok(want.kernels.includes('Tile'), `stock: ${want.kernels}`);
      assert.ok(!got.kernels.includes('Tile'), `fast: ${got.kernels}`);
      const wantValues = read(want.result as tf.Tensor);
      assert.ok(wantValues.some((v) => Math.abs(v) > 1e-4), 'input gradient is not 0');
      assertClose(read(got.result as tf.Tensor), wantValues, 1e-5, 'input gradient');
      tf.dispose([images, labels, want.result, got.result]);
      stock.dispose();
      fast.dispose();
    });
  }

  it('leaks no tensor over PGD steps (inference-mode input gradients) nor over inference-mode weight gradients', async () => {
    await tf.setBackend('wasm');
    const model = smallNet(true);
    perturbBatchNorms(model);
    const { images, labels } = batch();
    const before = tf.memory().numTensors;
    let x: tf.Tensor = images.clone();
    const counts: number[] = [];
    for (let step = 0; step < 4; step++) {
      const next = tf.tidy(() => {
        const g = tf.grad((input: tf.Tensor) => loss(model, input, labels, false))(x);
        return tf.clipByValue(tf.add(x, tf.mul(tf.sign(g), 0.01)), 0, 1);
      });
      x.dispose();
      x = next;
      // Gradients of gamma and beta with the moving statistics (fine-tuning in inference mode): the stock thunks.
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => loss(model, x, labels, false));
        assert.equal(Object.keys(grads).length, model.trainableWeights.length, 'a gradient for every trainable weight');
        assert.ok(value.dataSync()[0]! > 0);
      });
      counts.push(tf.memory().numTensors);
    }
    assert.deepEqual(counts, counts.map(() => before + 1), `tensors after each step: ${counts} (before: ${before})`);
    x.dispose();
    tf.dispose([images, labels]);
    assert.equal(tf.memory().numTensors, before - 2);
    model.dispose();
  });

  it('leaks no tensor over training steps (optimizer.minimize in tf.tidy) and input-gradient steps', async () => {
    await tf.setBackend('wasm');
    const model = smallNet(true);
    const { images, labels } = batch();
    const before = tf.memory().numTensors;
    const optimizer = tf.train.momentum(0.01, 0.9);
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const counts: number[] = [];
    for (let step = 0; step < 4; step++) {
      const cost = tf.tidy(() => optimizer.minimize(() => loss(model, images, labels, true), true, variables)!);
      cost.dispose();
      // An attack step: the input gradient in inference mode, where FastConv2D takes its unfused path.
      tf.tidy(() => void tf.grad((x: tf.Tensor) => loss(model, x, labels, false))(images));
      // A training-mode call outside any tape (FastBatchNormalization's op then saves nothing for a backward pass).
      tf.tidy(() => void model.apply(images, { training: true }));
      counts.push(tf.memory().numTensors);
    }
    // The first step creates the optimizer's slots; after that the count stays the same.
    assert.deepEqual(counts.slice(1), counts.slice(1).map(() => counts[0]), `tensors after each step: ${counts}`);
    disposeOptimizer(optimizer);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([images, labels]);
    model.dispose();
  });
});

describe('GELU and LayerNorm that keep only their input for the gradient', () => {
  before(async () => {
    await initBackend('wasm');
  });

  /** The output computed under a tape, and the gradients of sum(output * weights) w.r.t. every input. */
  function underTape(inputs: tf.Tensor[], compute: (...args: tf.Tensor[]) => tf.Tensor, weights: tf.Tensor) {
    let out: Float32Array | undefined;
    const grads = tf.grads((...args: tf.Tensor[]) => {
      const y = compute(...args);
      out = y.dataSync() as Float32Array;
      return tf.sum(tf.mul(y, weights));
    })(inputs);
    const result = { out: out!, grads: grads.map((g) => g.dataSync() as Float32Array) };
    tf.dispose(grads);
    return result;
  }

  it("FastGelu is tfjs-layers' gelu activation: same output bit for bit, the same gradient within float rounding", async () => {
    const dense = tf.layers.dense({ units: 6, activation: 'gelu', inputShape: [5] });
    dense.build([null, 5]);
    const activation = (dense as unknown as { activation: { apply(x: tf.Tensor): tf.Tensor; getClassName(): string } }).activation;
    assert.equal(activation.getClassName(), 'gelu');
    const x = tf.tensor2d(seededValues(4 * 6, 41, 3), [4, 6]);
    const w = tf.tensor2d(seededValues(4 * 6, 42), [4, 6]);
    const fast = underTape([x], (a) => activation.apply(a), w);
    const stock = await withStockKernels(() => underTape([x], (a) => activation.apply(a), w));
    assert.deepEqual(Array.from(fast.out), Array.from(stock.out));
    assertClose(fast.grads[0]!, stock.grads[0]!, 1e-5, 'dx');
    // The fused op keeps x alone: its tape node saved one tensor, where the stock ops save several.
    const kernels = (await tf.profile(() => tf.tidy(() => void tf.grad((a: tf.Tensor) => tf.sum(activation.apply(a)))(x)))).kernels.map((k) => k.name);
    assert.ok(kernels.includes('FastGelu'), kernels.join());
    tf.dispose([x, w]);
    dense.weights.forEach((weight) => weight.dispose());
  });

  it('LayerNorm under a tape: the same output bit for bit and the same gradients (x, gamma, beta) as op by op', async () => {
    const { LayerNorm } = await import('../src/models/layers/layer-norm.js');
    const layer = new LayerNorm({ epsilon: 1e-6 });
    layer.build([2, 3, 8]);
    layer.setWeights([tf.tensor1d(seededValues(8, 43, 0.5, 1)), tf.tensor1d(seededValues(8, 44, 0.2))]);
    const x = tf.tensor3d(seededValues(2 * 3 * 8, 45, 2, 0.5), [2, 3, 8]);
    const w = tf.tensor3d(seededValues(2 * 3 * 8, 46), [2, 3, 8]);
    const [gammaName, betaName] = layer.trainableWeights.map((v) => (v.read() as tf.Variable).name);
    const run = () => {
      let tapeY: Float32Array | undefined;
      const { grads, value } = tf.variableGrads(() => {
        const y = layer.apply(x) as tf.Tensor;
        tapeY = y.dataSync() as Float32Array;
        return tf.sum(tf.mul(y, w)) as tf.Scalar;
      });
      const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a) as tf.Tensor, w)))(x);
      const y = layer.apply(x) as tf.Tensor;
      const result = {
        tapeY: tapeY!,
        y: y.dataSync() as Float32Array,
        dx: dx.dataSync() as Float32Array,
        dGamma: grads[gammaName!]!.dataSync() as Float32Array,
        dBeta: grads[betaName!]!.dataSync() as Float32Array,
      };
      tf.dispose([value, dx, y, ...Object.values(grads)]);
      return result;
    };
    const fast = run();
    const stock = await withStockKernels(run);
    assert.deepEqual(Array.from(fast.tapeY), Array.from(stock.tapeY), 'output under a tape');
    assert.deepEqual(Array.from(fast.y), Array.from(stock.y), 'output without a tape');
    assertClose(fast.dx, stock.dx, 1e-5, 'dx');
    assertClose(fast.dGamma, stock.dGamma, 1e-5, 'dgamma');
    assertClose(fast.dBeta, stock.dBeta, 1e-5, 'dbeta');
    tf.dispose([x, w]);
    layer.weights.forEach((weight) => weight.dispose());
  });
});

describe('FastDense against tfjs-layers Dense', () => {
  before(async () => {
    await initBackend('wasm');
  });

  for (const activation of ['linear', 'gelu', 'relu'] as const) {
    it(`${activation}: the stock output bit for bit under a tape, the stock gradients, and an input gradient without the kernel's`, async () => {
      const args = { units: 6, activation, useBias: true } as const;
      const fast = new FastDense(args);
      const stock = tf.layers.dense(args);
      // Rank 3, as in a transformer block: the product runs on [tokens, features] rows.
      fast.build([2, 3, 5]);
      stock.build([2, 3, 5]);
      const weights = [tf.tensor2d(seededValues(5 * 6, 51), [5, 6]), tf.tensor1d(seededValues(6, 52, 0.5))];
      fast.setWeights(weights);
      stock.setWeights(weights);
      const x = tf.tensor3d(seededValues(2 * 3 * 5, 53, 2), [2, 3, 5]);
      const w = tf.tensor3d(seededValues(2 * 3 * 6, 54), [2, 3, 6]);
      const run = (layer: tf.layers.Layer) => {
        let out: Float32Array | undefined;
        const grads = tf.grads((a: tf.Tensor, k: tf.Tensor, bias: tf.Tensor) => {
          void k;
          void bias;
          const y = layer.apply(a) as tf.Tensor;
          out = y.dataSync() as Float32Array;
          return tf.sum(tf.mul(y, w));
        })([x, layer.trainableWeights[0]!.read(), layer.trainableWeights[1]!.read()]);
        const { grads: weightGrads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, w)) as tf.Scalar);
        const result = { out: out!, dx: grads[0]!.dataSync() as Float32Array, dw: Object.values(weightGrads).map((g) => g.dataSync() as Float32Array) };
        tf.dispose([...grads, ...Object.values(weightGrads)]);
        return result;
      };
      const got = run(fast);
      const want = run(stock);
      assert.deepEqual(Array.from(got.out), Array.from(want.out), 'output under a tape');
      assertClose(got.dx, want.dx, 1e-5, 'dx');
      got.dw.forEach((g, i) => assertClose(g, want.dw[i]!, 1e-5, `weight gradient ${i}`));
      // An input gradient alone: the stock fused product computes the kernel's gradient too, a second matrix product.
      const products = async (layer: tf.layers.Layer) =>
        (await tf.profile(() => tf.tidy(() => void tf.grad((a: tf.Tensor) => tf.sum(layer.apply(a) as tf.Tensor))(x)))).kernels.filter((k) => k.name === tf.BatchMatMul).length;
      if (activation === 'relu') assert.equal(await products(fast), await products(stock), 'relu: the stock code');
      else assert.ok((await products(fast)) < (await products(stock)), `${activation}: ${await products(fast)} products, stock ${await products(stock)}`);
      tf.dispose([x, w, ...weights]);
      [...fast.weights, ...stock.weights].forEach((v) => v.dispose());
    });
  }
});
