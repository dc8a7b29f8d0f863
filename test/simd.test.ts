// The WebAssembly SIMD kernels (src/backend/kernels/simd/kernels.wat): the committed binary is what the source
// compiles to, and each kernel gives, bit for bit, what its JavaScript twin gives, on the shared memory of tfjs-wasm's
// threaded build and on the plain memory of its single-threaded one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distUrl, repoRoot, tempDir, TFJS_URL } from './helpers.js';

// Runs each SIMD kernel and its JavaScript twin on the same seeded data (odd lengths, so the scalar tails run; ties,
// zeros, -0 and NaN among the values) and prints, per kernel, whether the outputs are identical bit for bit.
const CHILD = `
const tf = await import(${JSON.stringify(TFJS_URL)});
const { initBackend } = await import(${JSON.stringify(distUrl('src/backend/index.js'))});
const { simdKernels, heapOffset } = await import(${JSON.stringify(distUrl('src/backend/kernels/simd/index.js'))});
const { reluBackprop } = await import(${JSON.stringify(distUrl('src/backend/kernels/relu-grad.js'))});
const { maxPoolBackprop } = await import(${JSON.stringify(distUrl('src/backend/kernels/max-pool-grad.js'))});
const { linfStepJs } = await import(${JSON.stringify(distUrl('src/backend/kernels/linf-step.js'))});
const { col2im } = await import(${JSON.stringify(distUrl('src/backend/kernels/conv2d-backprop-input.js'))});
const { adamUpdate } = await import(${JSON.stringify(distUrl('src/backend/kernels/adam.js'))});
const { sumLeadingAxes } = await import(${JSON.stringify(distUrl('src/backend/kernels/sum.js'))});
const { wasmThreadsInUse } = await import(${JSON.stringify(distUrl('src/backend/wasm-threads.js'))});
await initBackend('wasm');
const backend = tf.backend();
const simd = simdKernels(backend);
let state = 12345;
const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1);
// Rounded to quarters: many exact ties and zeros; a few -0 and NaN.
const values = (n) => Float32Array.from({ length: n }, (_, i) => (i % 97 === 5 ? -0 : i % 89 === 7 ? NaN : Math.round(random() * 8) / 4));
const heap = (t) => backend.typedArrayFromHeap(t);
const bits = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
const out = (shape) => backend.makeOutput(shape, 'float32');
const results = { threads: wasmThreadsInUse(), shared: heap(out([1])).buffer instanceof SharedArrayBuffer, simd: simd !== undefined };

{ // ReLU gradient, 1,003 values.
  const n = 1003, x = tf.tensor(values(n)), dy = tf.tensor(values(n)), dx = out([n]);
  simd.relu_grad(heapOffset(backend, x), heapOffset(backend, dy), heapOffset(backend, dx), n);
  const want = new Float32Array(n);
  reluBackprop(heap(x), heap(dy), want);
  results.relu = bits(heap(dx)) === bits(want);
}
{ // Max-pool gradient, 2x2/2 over [3, 6, 10, 8]; NaN windows route differently by design, so x has none.
  const shape = [3, 6, 10, 8];
  const x = tf.tensor(values(3 * 6 * 10 * 8).map((v) => (Number.isNaN(v) ? 0 : v)), shape), dy = tf.tensor(values(3 * 3 * 5 * 8), [3, 3, 5, 8]);
  const dx = out(shape);
  simd.max_pool_grad_2x2(heapOffset(backend, x), heapOffset(backend, dy), heapOffset(backend, dx), 3 * 3, 5, 8, 0, 0);
  const want = new Float32Array(3 * 6 * 10 * 8);
  maxPoolBackprop(heap(x), heap(dy), want, tf.backend_util.computePool2DInfo(shape, 2, 2, 1, 'valid'));
  results.maxPool = bits(heap(dx)) === bits(want);
  // With the ReLU gradient fused in: the two passes' bits, -0 (a negative dy times 0) included.
  simd.max_pool_grad_2x2(heapOffset(backend, x), heapOffset(backend, dy), heapOffset(backend, dx), 3 * 3, 5, 8, 1, 0);
  reluBackprop(heap(x), want, want);
  results.maxPoolRelu = bits(heap(dx)) === bits(want) && Array.from(want).some((v) => Object.is(v, -0));
}
{ // The L-infinity step (PGD's sign step and projection) against its twin, the JavaScript path of the kernel: NaN, -0,
  // zeros and ties in the gradient, values outside [0, 1] and outside the box, a ragged tail, a step and radius that
  // float32 does not hold exactly.
  const n = 1003;
  const x = tf.tensor(values(n).map((v) => (Number.isNaN(v) ? 0.5 : v))), g = tf.tensor(values(n));
  const clean = tf.tensor(values(n).map((v) => (Number.isNaN(v) ? 0.25 : (v + 2) / 4)));
  const dx = out([n]);
  const stepBits = new Int32Array(new Float32Array([0.3 / 40]).buffer)[0], epsBits = new Int32Array(new Float32Array([0.3]).buffer)[0];
  simd.linf_step(heapOffset(backend, x), heapOffset(backend, g), heapOffset(backend, clean), heapOffset(backend, dx), n, stepBits, epsBits);
  const want = new Float32Array(n);
  linfStepJs(heap(x), heap(g), heap(clean), want, 0.3 / 40, 0.3);
  results.linfStep = bits(heap(dx)) === bits(want) && want.some((v) => v === 0) && want.some((v) => v === 1) && want.some((v) => v > 0 && v < 1);
}
{ // Adam, 1,001 values: 250 vector steps and a tail of 1.
  const n = 1001, attrs = { beta1: 0.9, beta2: 0.999, epsilon: 1e-7, learningRate: 0.003 };
  const positive = (a) => a.map((v) => (Number.isNaN(v) ? 1 : Math.abs(v)));
  const w = tf.tensor(values(n)), m = tf.tensor(values(n).map((v) => (Number.isNaN(v) ? 0 : v / 10))), v = tf.tensor(positive(values(n)));
  const g = tf.tensor(values(n).map((v) => (Number.isNaN(v) ? 0.5 : v)));
  const outs = [out([n]), out([n]), out([n])];
  const [c1, c2] = [Math.fround(1 - 0.9 ** 3), Math.fround(1 - 0.999 ** 3)];
  simd.adam(...[w, m, v, g, ...outs].map((t) => heapOffset(backend, t)), n, attrs.beta1, 1 - attrs.beta1, attrs.beta2, 1 - attrs.beta2, attrs.epsilon, -attrs.learningRate, c1, c2);
  const want = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  adamUpdate(heap(w), heap(m), heap(v), heap(g), c1, c2, attrs, ...want);
  results.adam = outs.every((t, i) => bits(heap(t)) === bits(want[i]));
  results.adamMoved = heap(outs[0]).some((value, i) => value !== heap(w)[i]);
}
{ // Transposes: 4x4 tiles and both edges (9 x 10), tiles only (8 x 8), a single row (1 x 7).
  results.transpose = [[9, 10], [8, 8], [1, 7]].every(([rows, cols]) => {
    const a = tf.tensor(values(rows * cols), [rows, cols]), t = out([cols, rows]);
    simd.transpose(heapOffset(backend, a), heapOffset(backend, t), rows, cols);
    const src = heap(a), want = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) want[c * rows + r] = src[r * cols + c];
    return bits(heap(t)) === bits(want);
  });
}
{ // col2im: 3x3 stride 1 'same' on one channel, and 3x3 stride 2 'valid' on three (edges, skipped taps, overlaps).
  results.col2im = [[[2, 7, 6, 1], 1, 'same'], [[2, 9, 8, 3], 2, 'valid']].every(([xShape, stride, pad]) => {
    const info = tf.backend_util.computeConv2DInfo(xShape, [3, 3, xShape[3], 4], stride, 1, pad, undefined, false, 'channelsLast');
    const colsSize = info.batchSize * info.outHeight * info.outWidth * 9 * xShape[3];
    const cols = tf.tensor(values(colsSize).map((v) => (Number.isNaN(v) ? 1 : v))), dx = out(xShape);
    const geometry = backend.makeOutput([12], 'int32');
    backend.typedArrayFromHeap(geometry).set([info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth,
      3, 3, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left]);
    simd.col2im(heapOffset(backend, cols), heapOffset(backend, dx), heapOffset(backend, geometry));
    const want = new Float32Array(xShape.reduce((a, b) => a * b, 1));
    col2im(heap(cols), want, info);
    return bits(heap(dx)) === bits(want);
  });
}
{ // Sums over leading axes: 1 to 13 rows (groups of four and 1-3 left over), 4 to 64 channels; NaN made large, so
  // that float64 totals round differently from float32 ones.
  results.sum = [[1, 4], [2, 8], [3, 12], [4, 4], [5, 64], [7, 8], [13, 20]].every(([rows, channels]) => {
    const x = tf.tensor(values(rows * channels).map((v, i) => (Number.isNaN(v) ? 3e7 + i : v + i * 1e-3)), [rows, channels]);
    const sum = out([channels]), totals = out([2 * channels]);
    simd.sum_leading_axes(heapOffset(backend, x), heapOffset(backend, sum), heapOffset(backend, totals), rows, channels);
    const want = new Float32Array(channels);
    sumLeadingAxes(heap(x), want, channels);
    return bits(heap(sum)) === bits(want);
  });
}
console.log(JSON.stringify(results));
`;

function runChild(threads: string): Record<string, unknown> {
  const script = join(tempDir('temper-simd-'), 'child.mjs');
  writeFileSync(script, CHILD);
  const result = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TEMPER_WASM_THREADS: threads }, cwd: repoRoot });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe('WebAssembly SIMD kernels', () => {
  it('binary.ts is what kernels.wat compiles to', () => {
    const check = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-simd.mjs'), '--check'], { encoding: 'utf8', cwd: repoRoot });
    assert.equal(check.status, 0, check.stderr);
  });

  // The F(4x4, 3x3) Winograd transforms and their JavaScript twins are generated (tools/winograd/gen_winograd4.py):
  // what is committed must be what the generator writes, so a regeneration changes nothing by surprise.
  const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  it('kernels.wat and winograd.ts hold what tools/winograd/gen_winograd4.py generates', { skip: python.status === 0 ? false : 'no python3 on this machine' }, () => {
    const out = tempDir('temper-gen-winograd-');
    const run = spawnSync('python3', [join(repoRoot, 'tools', 'winograd', 'gen_winograd4.py'), out], { encoding: 'utf8', cwd: repoRoot });
    assert.equal(run.status, 0, run.stderr);
    const wat = readFileSync(join(repoRoot, 'src', 'backend', 'kernels', 'simd', 'kernels.wat'), 'utf8');
    const ts = readFileSync(join(repoRoot, 'src', 'backend', 'kernels', 'winograd.ts'), 'utf8');
    for (const [file, holder] of [['forward.wat', wat], ['filter-grad.wat', wat], ['forward.ts', ts], ['filter-grad.ts', ts]] as const) {
      const generated = readFileSync(join(out, file), 'utf8');
      assert.ok(generated.length > 1000 && holder.includes(generated), `${file} is not what the sources hold`);
    }
  });

  for (const threads of ['2', '1']) {
    it(`match their JavaScript twins bit for bit (${threads === '1' ? 'plain memory, 1 thread' : 'shared memory, 2 threads'})`, () => {
      const result = runChild(threads);
      assert.equal(result['threads'], Number(threads));
      assert.equal(result['shared'], threads !== '1', 'the memory kind of the build in use');
      assert.equal(result['simd'], true);
      assert.equal(result['relu'], true, 'ReLU gradient');
      assert.equal(result['maxPool'], true, 'max-pool gradient');
      assert.equal(result['maxPoolRelu'], true, 'max-pool gradient with the ReLU gradient fused in');
      assert.equal(result['linfStep'], true, 'L-infinity step');
      assert.equal(result['adam'], true, 'Adam update');
      assert.equal(result['adamMoved'], true, 'the Adam case changes the weights');
      assert.equal(result['transpose'], true, 'transpose');
      assert.equal(result['col2im'], true, 'col2im');
      assert.equal(result['sum'], true, 'sums over leading axes');
    });
  }
});
