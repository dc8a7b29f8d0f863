// The training-mode batch-norm kernels on wasm (src/backend/kernels/batch-norm-training.ts): statistics and gradients
// against a float64 evaluation of the formulas, the same bits at 1 and 2 threads and with the SIMD kernels off, and the
// kernels are what a FastBatchNormalization training step runs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { distUrl, runNodeScript, TFJS_URL, WAIT_FOR_WORKER_THREADS } from './helpers.js';

// Shapes: one block of rows; an odd number of rows; several blocks, the last one shorter and odd (blockRows(64) is 256:
// 8415 rows are 32 full blocks and one of 223), with enough values to split between threads; many channels.
// Values sit away from 0 (mean 3), as after a ReLU, so a variance computed from raw sums would lose digits.
const CHILD = `
import { createHash } from 'node:crypto';
const tf = await import(${JSON.stringify(TFJS_URL)});
const { initBackend } = await import(${JSON.stringify(distUrl('src/backend/index.js'))});
const { wasmThreadsInUse } = await import(${JSON.stringify(distUrl('src/backend/wasm-threads.js'))});
const { FastBatchNormalization } = await import(${JSON.stringify(distUrl('src/models/fast-layers.js'))});
await initBackend('wasm');
// The 2-thread run splits the sums between the worker threads: wait for them.
${WAIT_FOR_WORKER_THREADS}
function values(n, seed, scale, shift) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; a[i] = (s / 2 ** 31 - 1) * scale + shift; }
  return a;
}
const run = (name, inputs, attrs = {}) => tf.engine().runKernel(name, inputs, attrs);
const shapes = [[2, 3, 3, 4], [5, 7, 9, 8], [33, 15, 17, 64], [3, 5, 5, 260]];
const eps = 1e-3;
const hash = createHash('sha256');
const errors = [];
for (const [k, shape] of shapes.entries()) {
  const channels = shape.at(-1);
  const size = shape.reduce((a, b) => a * b, 1);
  const rows = size / channels;
  const xv = values(size, 10 + k, 2, 3);
  const dyv = values(size, 20 + k, 1, 0.1);
  const gv = values(channels, 30 + k, 0.5, 1);
  const x = tf.tensor(xv, shape), dy = tf.tensor(dyv, shape), gamma = tf.tensor1d(gv);
  const [mean, variance] = run('TemperBatchMoments', { x });
  const [dbeta, dgamma] = run('TemperBatchNormGradSums', { dy, x, mean, variance }, { varianceEpsilon: eps });
  const dx = run('TemperBatchNormGradInput', { dy, x, mean, variance, dbeta, dgamma, scale: gamma }, { varianceEpsilon: eps });
  const dxBare = run('TemperBatchNormGradInput', { dy, x, mean, variance, dbeta, dgamma }, { varianceEpsilon: eps });
  const got = { mean: mean.dataSync(), variance: variance.dataSync(), dbeta: dbeta.dataSync(), dgamma: dgamma.dataSync(), dx: dx.dataSync(), dxBare: dxBare.dataSync() };
  for (const v of Object.values(got)) hash.update(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  // float64 reference: the batch statistics, then the gradients with them.
  const m = new Float64Array(channels), v = new Float64Array(channels), sb = new Float64Array(channels), sg = new Float64Array(channels);
  // The sums of absolute terms: a sum's rounding error scales with them, not with the sum (dbeta and dgamma cancel).
  const ab = new Float64Array(channels), ag = new Float64Array(channels);
  for (let i = 0; i < size; i++) m[i % channels] += xv[i] / rows;
  for (let i = 0; i < size; i++) v[i % channels] += (xv[i] - m[i % channels]) ** 2 / rows;
  const inv = Float64Array.from(v, (s) => 1 / Math.sqrt(s + eps));
  for (let i = 0; i < size; i++) { const c = i % channels; sb[c] += dyv[i]; sg[c] += dyv[i] * (xv[i] - m[c]) * inv[c]; ab[c] += Math.abs(dyv[i]); ag[c] += Math.abs(dyv[i] * (xv[i] - m[c]) * inv[c]); }
  const dxRef = (scaled) => Float64Array.from(xv, (xi, i) => {
    const c = i % channels, a = (scaled ? gv[c] : 1) * inv[c];
    return a * dyv[i] - (a / rows) * (sb[c] + (xi - m[c]) * inv[c] * sg[c]);
  });
  // Each value's error relative to the largest of its own magnitude, the root mean square of the reference and, for a
  // sum, its sum of absolute terms.
  const worst = (g, want, terms) => {
    const rms = Math.sqrt(want.reduce((s, w) => s + w * w, 0) / want.length);
    let e = 0;
    for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(g[i] - want[i]) / Math.max(Math.abs(want[i]), rms, terms ? terms[i] : 0));
    return e;
  };
  errors.push({ shape, mean: worst(got.mean, m), variance: worst(got.variance, v), dbeta: worst(got.dbeta, sb, ab), dgamma: worst(got.dgamma, sg, ag),
    dx: worst(got.dx, dxRef(true)), dxBare: worst(got.dxBare, dxRef(false)) });
  tf.dispose([x, dy, gamma, mean, variance, dbeta, dgamma, dx, dxBare]);
}
// A FastBatchNormalization training step runs the three kernels; nothing is left behind.
const layer = new FastBatchNormalization({});
layer.build([4, 6, 6, 8]);
const xs = tf.variable(tf.tensor(values(4 * 6 * 6 * 8, 7, 1, 0.5), [4, 6, 6, 8]));
const step = () => tf.tidy(() => tf.variableGrads(() => tf.sum(tf.square(layer.apply(xs, { training: true }))), [xs, ...layer.trainableWeights.map((w) => w.read())]));
tf.dispose(Object.values(step().grads));
const { kernelNames } = await tf.profile(() => { const { value, grads } = step(); tf.dispose([value, ...Object.values(grads)]); });
const backend = tf.backend();
const before = [tf.memory().numTensors, backend.numDataIds()];
for (let i = 0; i < 5; i++) { const { value, grads } = step(); tf.dispose([value, ...Object.values(grads)]); }
const leaked = [tf.memory().numTensors - before[0], backend.numDataIds() - before[1]];
console.log(JSON.stringify({ threads: wasmThreadsInUse(), splitOver: parallelThreads(instance), hash: hash.digest('hex'), errors, kernelNames, leaked }));
`;

interface Result {
  threads: number;
  splitOver: number;
  hash: string;
  errors: Array<Record<string, number> & { shape: number[] }>;
  kernelNames: string[];
  leaked: number[];
}

describe('batch-norm training kernels on wasm', () => {
  it('give the float64 statistics and gradients within float32 rounding, the same bits at 1 and 2 threads and without SIMD, and leak nothing', (t) => {
    const one = runNodeScript<Result>(CHILD, { TEMPER_WASM_THREADS: '1' });
    const two = runNodeScript<Result>(CHILD, { TEMPER_WASM_THREADS: '2' });
    const scalar = runNodeScript<Result>(CHILD, { TEMPER_WASM_THREADS: '2', TEMPER_NO_SIMD_KERNELS: '1' });
    assert.equal(one.threads, 1);
    assert.equal(two.threads, 2);
    assert.equal(two.splitOver, 2, 'the worker threads were ready');
    assert.equal(two.hash, one.hash, 'same bits at 1 and 2 threads');
    assert.equal(scalar.hash, one.hash, 'the JavaScript path gives the SIMD kernels\' bits');
    // Float32 sums of at most 128 values per lane, then float64 (measured errors: printed below). A wrong formula, or a
    // missing row or block, is off by far more than 2e-5 (one block of 33 moves a mean by 3%).
    for (const e of one.errors) {
      for (const [name, error] of Object.entries(e)) {
        if (name === 'shape') continue;
        assert.ok((error as number) < 2e-5, `[${e.shape}] ${name}: relative error ${error}`);
      }
    }
    t.diagnostic(`largest relative errors: ${JSON.stringify(one.errors.map((e) => Math.max(...Object.entries(e).filter(([k]) => k !== 'shape').map(([, v]) => v as number))))}`);
    for (const name of ['TemperBatchMoments', 'TemperBatchNormGradSums', 'TemperBatchNormGradInput']) {
      assert.ok(one.kernelNames.includes(name), `a training step runs ${name}: ${one.kernelNames.join()}`);
    }
    assert.ok(!one.kernelNames.includes('SquaredDifference'), 'the op-by-op statistics do not run');
    assert.deepEqual(one.leaked, [0, 0]);
    assert.deepEqual(two.leaked, [0, 0]);
  });
});

// Trains cnn-small-bn (batch norm after both convolutions: 32 and 64 channels, the kernels above) for 4 Adam steps on
// fixed data, on the backend BACKEND, and prints the losses and a hash of the weights (moving statistics included).
const TRAIN_CHILD = `
import { createHash } from 'node:crypto';
const tf = await import(${JSON.stringify(TFJS_URL)});
const { initBackend } = await import(${JSON.stringify(distUrl('src/backend/index.js'))});
const { createModel } = await import(${JSON.stringify(distUrl('src/models/index.js'))});
await initBackend(process.env.BACKEND);
${WAIT_FOR_WORKER_THREADS}
const model = createModel('cnn-small-bn', { inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
const optimizer = tf.train.adam(0.001);
const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 9);
const y = tf.oneHot(tf.tensor1d(Array.from({ length: 4 }, (_, i) => (i * 7) % 10), 'int32'), 10);
const losses = [];
for (let i = 0; i < 4; i++) {
  const loss = tf.tidy(() => optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true));
  losses.push(loss.dataSync()[0]);
  loss.dispose();
}
const hash = createHash('sha256');
for (const w of model.getWeights()) hash.update(Buffer.from(w.dataSync().buffer));
console.log(JSON.stringify({ splitOver: parallelThreads(instance), losses, hash: hash.digest('hex') }));
`;

describe('a batch-norm net in training on wasm', () => {
  it('gives the same bits at 1 and 2 threads, and the cpu backend\'s losses within rounding', (t) => {
    type Trained = { splitOver: number; losses: number[]; hash: string };
    const one = runNodeScript<Trained>(TRAIN_CHILD, { BACKEND: 'wasm', TEMPER_WASM_THREADS: '1' });
    const two = runNodeScript<Trained>(TRAIN_CHILD, { BACKEND: 'wasm', TEMPER_WASM_THREADS: '2' });
    const cpu = runNodeScript<Trained>(TRAIN_CHILD, { BACKEND: 'cpu' });
    assert.equal(two.splitOver, 2, 'the worker threads were ready');
    assert.deepEqual(two.losses, one.losses);
    assert.equal(two.hash, one.hash);
    // Different convolution algorithms (Winograd here, direct on cpu) and sums part at rounding level; a wrong
    // gradient or statistic moves the loss by percents in 4 steps.
    let widest = 0;
    for (let i = 0; i < cpu.losses.length; i++) {
      const gap = Math.abs(one.losses[i]! - cpu.losses[i]!) / Math.abs(cpu.losses[i]!);
      assert.ok(gap < 1e-3, `step ${i}: loss ${one.losses[i]} on wasm against ${cpu.losses[i]} on cpu`);
      widest = Math.max(widest, gap);
    }
    t.diagnostic(`widest relative loss gap to the cpu backend over 4 steps: ${widest.toExponential(2)}`);
    assert.ok(cpu.losses.at(-1)! < cpu.losses[0]!, `the net trains: ${cpu.losses}`);
  });
});
