// The project's matrix product (src/backend/kernels/gemm.ts): against a float64 reference on awkward shapes, the same
// bits however its rows and columns are shared out (and with its worker threads), with and without fused
// multiply-adds, and its switches.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { GEMM_MR, PARALLEL_MIN_ELEMENTS, gemm, gemmInstance, splitProduct } from '../src/backend/kernels/gemm.js';
import { wasmThreadsInUse } from '../src/backend/wasm-threads.js';
import { directConv, directConvApplies, im2colApplies, im2colConv } from '../src/backend/kernels/fused-conv.js';
import { pooledAheadCount } from '../src/backend/kernels/max-pool-grad.js';
import { winogradFilterGradient } from '../src/backend/kernels/winograd.js';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, runNodeScript, seededValues, TFJS_URL, wasmBackend } from './helpers.js';

const BACKEND = pathToFileURL(join(repoRoot, 'dist', 'src', 'backend', 'index.js')).href;

/** C = op(A) op(B) in float64, with the error bound of any float32 summation order: k 2^-23 sum |a b| (+ 1e-30). */
function reference(a: Float32Array, b: Float32Array, m: number, n: number, k: number, transposeA: boolean, transposeB: boolean) {
  const value = new Float64Array(m * n);
  const bound = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      let magnitude = 0;
      for (let kk = 0; kk < k; kk++) {
        const term = a[transposeA ? kk * m + i : i * k + kk]! * b[transposeB ? j * k + kk : kk * n + j]!;
        sum += term;
        magnitude += Math.abs(term);
      }
      value[i * n + j] = sum;
      bound[i * n + j] = k * 2 ** -23 * magnitude + 1e-30;
    }
  }
  return { value, bound };
}

const backend = (): BackendWasm => tf.backend() as BackendWasm;

type Instance = NonNullable<ReturnType<typeof gemmInstance>>;

/** The values of the tensors `compute` returns, computed with `pool` as the product's worker threads (none: one thread). */
function withPool(instance: Instance, pool: Instance['pool'], compute: () => tf.Tensor[]): Float32Array[] {
  const kept = instance.pool;
  instance.pool = pool;
  try {
    return tf.tidy(compute).map((t) => {
      const values = t.dataSync() as Float32Array;
      t.dispose();
      return values;
    });
  } finally {
    instance.pool = kept;
  }
}

/**
 * A forward convolution case: x, filter and bias from seeds `seed`, `seed + 1` (values times `filterScale`) and
 * `seed + 2`, its geometry, and convReference's values and bounds for it.
 */
function forwardCase(
  c: { x: number[]; f: number[]; stride?: number; pad: 'same' | 'valid'; bias: boolean; relu: boolean }, seed: number, filterScale: number,
) {
  const [n, h, w, cin] = c.x as [number, number, number, number];
  const [fh, fw, , cout] = c.f as [number, number, number, number];
  const xv = seededValues(n * h * w * cin, seed);
  const fv = seededValues(fh * fw * cin * cout, seed + 1, filterScale);
  const bv = seededValues(cout, seed + 2);
  const info = tf.backend_util.computeConv2DInfo([n, h, w, cin], [fh, fw, cin, cout], c.stride ?? 1, 1, c.pad, undefined, false, 'channelsLast');
  const { want, bound } = convReference(xv, fv, c.bias ? bv : undefined, c.relu, info);
  return { n, cin, fh, fw, cout, info, want, bound, x: tf.tensor(xv, c.x), filter: tf.tensor(fv, c.f), bias: tf.tensor(bv, [cout]) };
}

/**
 * A convolution (+ bias, ReLU) in float64, and for each output the error bound of any float32 summation order over
 * its terms: (taps + 1) 2^-23 (sum |x w| + |bias|) + 1e-30.
 */
function convReference(xv: Float32Array, fv: Float32Array, bv: Float32Array | undefined, relu: boolean, info: tf.backend_util.Conv2DInfo) {
  const { outChannels: cout, filterHeight: fh, filterWidth: fw, inChannels: cin } = info;
  const want = new Float64Array(info.batchSize * info.outHeight * info.outWidth * cout);
  const magnitude = new Float64Array(want.length);
  convTerms(info, (xAt, fAt, yAt) => {
    const term = xv[xAt]! * fv[fAt]!;
    want[yAt] += term;
    magnitude[yAt] += Math.abs(term);
  });
  const bound = new Float64Array(want.length);
  for (let at = 0; at < want.length; at++) {
    const bias = bv?.[at % cout] ?? 0;
    want[at] = relu ? Math.max(want[at]! + bias, 0) : want[at]! + bias;
    bound[at] = (fh * fw * cin + 1) * 2 ** -23 * (magnitude[at]! + Math.abs(bias)) + 1e-30;
  }
  return { want, bound };
}

/**
 * Calls visit(x index, filter index, output index) for every product term of a stride-1 or strided convolution (NHWC
 * input, [KH KW CI CO] filter), padding skipped: the terms the input and filter gradients sum, read the other way.
 */
function convTerms(info: tf.backend_util.Conv2DInfo, visit: (xAt: number, fAt: number, yAt: number) => void): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: cin, outHeight: oh, outWidth: ow, outChannels: cout, filterHeight: fh, filterWidth: fw } = info;
  for (let b = 0; b < n; b++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
    for (let ky = 0; ky < fh; ky++) for (let kx = 0; kx < fw; kx++) {
      const iy = oy * info.strideHeight + ky - info.padInfo.top;
      const ix = ox * info.strideWidth + kx - info.padInfo.left;
      if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
      for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) {
        visit(((b * h + iy) * w + ix) * cin + i, ((ky * fw + kx) * cin + i) * cout + o, ((b * oh + oy) * ow + ox) * cout + o);
      }
    }
  }
}

describe('the project matrix product (wasm)', () => {
  before(async () => {
    await wasmBackend();
  });

  it('shares out every element of C exactly once, in whole micro-kernel rows or 8-column panels', () => {
    for (const [m, n, k] of [[1, 1, 1], [5, 3, 700], [4096, 64, 64], [64, 4096, 64], [9, 17, 100_000], [1000, 10, 2000], [3, 1000, 1000]] as const) {
      for (const threads of [1, 2, 3, 8]) {
        const shares = splitProduct(m, n, k, threads);
        assert.ok(shares.length >= 1 && shares.length <= threads, `${m}x${n}x${k} over ${threads}: ${shares.length} shares`);
        const covered = new Uint8Array(m * n);
        for (const { row0, row1, col0, col1 } of shares) {
          assert.ok((row0 % GEMM_MR === 0) && (col0 % 8 === 0), `share starts on a block: ${row0}, ${col0}`);
          for (let i = row0; i < row1; i++) for (let j = col0; j < col1; j++) covered[i * n + j]! += 1;
        }
        assert.ok(covered.every((count) => count === 1), `${m}x${n}x${k} over ${threads} threads`);
        if (m * n * k < 1 << 20) assert.equal(shares.length, 1, 'a small product stays on one thread');
      }
    }
  });

  it('equals a float64 reference within float32 rounding, on edge sizes, transposes and batches', () => {
    assert.ok(gemmInstance(backend()), 'the product is on for the wasm backend');
    const cases: Array<[number, number, number, number, number]> = [
      // [batch of A, batch of B, m, k, n]
      [1, 1, 1, 1, 1], [1, 1, 3, 5, 7], [1, 1, 4, 8, 8], [1, 1, 5, 9, 9], [2, 2, 7, 300, 17], [3, 1, 9, 257, 16],
      [1, 3, 13, 513, 10], [2, 2, 33, 64, 65], [1, 1, 130, 520, 24], [1, 1, 6, 1, 33],
    ];
    let seed = 1;
    for (const [batchA, batchB, m, k, n] of cases) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) {
          const a = seededValues(batchA * m * k, seed++);
          const b = seededValues(batchB * k * n, seed++, 3, 0.5);
          const got = tf.tidy(() => {
            const at = tf.tensor(a, transposeA ? [batchA, k, m] : [batchA, m, k]);
            const bt = tf.tensor(b, transposeB ? [batchB, n, k] : [batchB, k, n]);
            return tf.matMul(at, bt, transposeA, transposeB).dataSync() as Float32Array;
          });
          const batch = Math.max(batchA, batchB);
          assert.equal(got.length, batch * m * n);
          for (let z = 0; z < batch; z++) {
            const za = batchA === 1 ? 0 : z;
            const zb = batchB === 1 ? 0 : z;
            const want = reference(a.subarray(za * m * k, (za + 1) * m * k), b.subarray(zb * k * n, (zb + 1) * k * n), m, n, k, transposeA, transposeB);
            for (let i = 0; i < m * n; i++) {
              const error = Math.abs(got[z * m * n + i]! - want.value[i]!);
              assert.ok(error <= want.bound[i]!, `${m}x${k}x${n} tA=${transposeA} tB=${transposeB} batch ${z} element ${i}: error ${error} over ${want.bound[i]}`);
            }
          }
        }
      }
    }
  });

  it('gives the same bits on one thread, in any shares, and with its worker threads', async () => {
    const instance = gemmInstance(backend())!;
    if (wasmThreadsInUse() > 1) {
      assert.ok(instance.pool, 'a threaded backend has worker threads for the product');
      for (let waited = 0; !instance.pool.ready && waited < 20_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(instance.pool.ready, 'the worker threads start within 20 s');
    }
    const [m, k, n] = [203, 600, 77];
    const a = tf.tensor(seededValues(m * k, 11), [m, k]);
    const b = tf.tensor(seededValues(k * n, 12), [k, n]);
    const [threaded] = withPool(instance, instance.pool, () => [tf.matMul(a, b)]);
    const [single] = withPool(instance, undefined, () => [tf.matMul(a, b)]);
    assert.deepEqual(threaded, single);
    // Shares by hand: by rows (whole blocks), then by columns (whole panels), each written into its part of C.
    for (const shares of [
      [{ row0: 0, row1: 8, col0: 0, col1: n }, { row0: 8, row1: 100, col0: 0, col1: n }, { row0: 100, row1: m, col0: 0, col1: n }],
      [{ row0: 0, row1: m, col0: 0, col1: 16 }, { row0: 0, row1: m, col0: 16, col1: 72 }, { row0: 0, row1: m, col0: 72, col1: n }],
    ]) {
      const c = tf.zeros([m, n]);
      for (const { row0, row1, col0, col1 } of shares) {
        gemm(backend(), { ...instance, pool: undefined }, {
          a: { data: a, floatOffset: row0 * k, rowStride: k, colStride: 1 },
          b: { data: b, floatOffset: col0, rowStride: n, colStride: 1 },
          c: { data: c, floatOffset: row0 * n + col0, ldc: n },
          m: row1 - row0, n: col1 - col0, k,
        });
      }
      assert.deepEqual(c.dataSync(), single, `shares ${JSON.stringify(shares)}`);
      c.dispose();
    }
    a.dispose();
    b.dispose();
  });

  it('a batch of products gives each product\'s own bits, whole products to each worker thread or each product split', () => {
    const instance = gemmInstance(backend())!;
    // 12 products of 64x100x64 (whole products per thread), 2 of 300x200x40 (each split, as one product is), and one
    // operand shared by the batch.
    const cases: Array<[number, number, number, number, number]> = [[12, 12, 64, 100, 64], [2, 2, 300, 200, 40], [1, 12, 64, 100, 64]];
    for (const [batchA, batchB, m, k, n] of cases) {
      const a = tf.tensor(seededValues(batchA * m * k, 61), [batchA, m, k]);
      const b = tf.tensor(seededValues(batchB * k * n, 62), [batchB, k, n]);
      const [threaded] = withPool(instance, instance.pool, () => [tf.matMul(a, b)]);
      const [single] = withPool(instance, undefined, () => [tf.matMul(a, b)]);
      assert.deepEqual(threaded, single, `[${batchA}, ${m}, ${k}] x [${batchB}, ${k}, ${n}]: threaded and single`);
      const batch = Math.max(batchA, batchB);
      for (let z = 0; z < batch; z++) {
        const [alone] = withPool(instance, instance.pool, () => [tf.matMul(
          tf.slice(a, [batchA === 1 ? 0 : z, 0, 0], [1, m, k]).reshape([m, k]), tf.slice(b, [batchB === 1 ? 0 : z, 0, 0], [1, k, n]).reshape([k, n]))]);
        assert.deepEqual(single.subarray(z * m * n, (z + 1) * m * n), alone, `product ${z} of [${batchA}, ${m}, ${k}] x [${batchB}, ${k}, ${n}]`);
      }
      tf.dispose([a, b]);
    }
  });

  it('Winograd convolutions give the same bits with their transforms split over the worker threads and on one', () => {
    const instance = gemmInstance(backend())!;
    const saved = process.env['TEMPER_WINOGRAD'];
    process.env['TEMPER_WINOGRAD'] = 'all';
    try {
      const x = tf.tensor(seededValues(8 * 20 * 20 * 8, 41), [8, 20, 20, 8]);
      const filter = tf.tensor(seededValues(3 * 3 * 8 * 32, 42, 0.3), [3, 3, 8, 32]);
      const run = (pool: Instance['pool']): Float32Array[] => withPool(instance, pool, () => {
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')).square().sum())([x, filter]);
        return [tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, 1, 'same'), dx!, dw!];
      });
      const threaded = run(instance.pool);
      const single = run(undefined);
      for (let i = 0; i < 3; i++) assert.deepEqual(threaded[i], single[i], ['forward', 'input gradient', 'filter gradient'][i]);
      tf.dispose([x, filter]);
    } finally {
      if (saved === undefined) delete process.env['TEMPER_WINOGRAD'];
      else process.env['TEMPER_WINOGRAD'] = saved;
    }
  });

  it('a kernel that sized its per-thread buffers before the worker threads became ready keeps to that many shares', () => {
    const instance = gemmInstance(backend())!;
    const pool = instance.pool;
    if (!pool?.ready) return; // one thread: nothing can change under a kernel
    // The pool's workers start after the backend: a kernel may see it not ready, then ready. The unfused Winograd
    // filter gradient once sized its geometry blocks for one thread and then split dy over two, writing past them.
    let asked = 0;
    const late = { get ready() { return asked++ > 0; }, helpers: pool.helpers, run: pool.run.bind(pool) } as unknown as NonNullable<Instance['pool']>;
    const x = tf.tensor4d(seededValues(64 * 6 * 6 * 64, 71), [64, 6, 6, 64]);
    const dy = tf.tensor4d(seededValues(64 * 6 * 6 * 64, 72), [64, 6, 6, 64]);
    const run = (p: Instance['pool']): Float32Array => {
      const kept = instance.pool;
      instance.pool = p;
      try {
        const dw = winogradFilterGradient(backend(), x, dy, { outShape: [64, 6, 6, 64], padTop: 1, padLeft: 1, tile: 4, fused: false });
        const values = (backend().typedArrayFromHeap(dw) as Float32Array).slice();
        backend().disposeData(dw.dataId);
        return values;
      } finally {
        instance.pool = kept;
      }
    };
    assert.deepEqual(run(late), run(undefined));
    assert.ok(asked > 1, 'the kernel asked for the thread count more than once');
    tf.dispose([x, dy]);
  });

  it('batch norm and the ReLU gradient give the same bits split over the worker threads and on one', () => {
    const instance = gemmInstance(backend())!;
    const x = tf.tensor(seededValues(6 * 33 * 17 * 64, 51, 2), [6, 33, 17, 64]);
    const dy = tf.tensor(seededValues(6 * 33 * 17 * 64, 52), [6, 33, 17, 64]);
    const mean = tf.tensor(seededValues(64, 53), [64]);
    const variance = tf.tensor(seededValues(64, 54, 0.5, 1), [64]);
    const scale = tf.tensor(seededValues(64, 55), [64]);
    const offset = tf.tensor(seededValues(64, 56), [64]);
    const run = (pool: Instance['pool']): Float32Array[] => withPool(instance, pool, () => [
      tf.batchNorm(x, mean, variance, offset, scale, 1e-3),
      tf.grad((a: tf.Tensor) => tf.relu(a).mul(dy).sum())(x),
    ]);
    assert.ok(x.size >= PARALLEL_MIN_ELEMENTS, 'big enough to be split');
    const threaded = run(instance.pool);
    const single = run(undefined);
    assert.deepEqual(threaded[0], single[0], 'batch norm');
    assert.deepEqual(threaded[1], single[1], 'ReLU gradient');
    tf.dispose([x, dy, mean, variance, scale, offset]);
  });

  it('im2col convolutions (stride 2, same and valid padding, bias, ReLU) equal a float64 reference, chunked, threaded or not', () => {
    const instance = gemmInstance(backend())!;
    const cases = [
      { x: [6, 9, 11, 64], f: [3, 3, 64, 72], stride: 2, pad: 'same' as const, bias: true, relu: true },
      { x: [2, 10, 7, 60], f: [3, 3, 60, 64], stride: 2, pad: 'valid' as const, bias: false, relu: false },
      { x: [4, 6, 6, 128], f: [2, 2, 128, 65], stride: 1, pad: 'same' as const, bias: true, relu: false },
    ];
    cases.forEach((c, i) => {
      const { cin, fh, fw, info, want, bound, x, filter, bias } = forwardCase(c, 60 + 3 * i, 0.2);
      assert.ok(im2colApplies(info), `${JSON.stringify(c)} takes the im2col path`);
      const [oh, ow] = [info.outHeight, info.outWidth];
      const results: Float32Array[] = [];
      for (const [chunkFloats, pool] of [[1 << 22, instance.pool], [oh * ow * fh * fw * cin, instance.pool], [2 * oh * ow * fh * fw * cin, undefined]] as const) {
        const kept = instance.pool;
        instance.pool = pool;
        try {
          const y = im2colConv(backend(), x, filter, c.bias ? bias : undefined, c.relu, info, chunkFloats);
          results.push(backend().typedArrayFromHeap(y).slice() as Float32Array);
          backend().disposeData(y.dataId);
        } finally {
          instance.pool = kept;
        }
      }
      for (let i = 0; i < want.length; i++) {
        assert.ok(Math.abs(results[0]![i]! - want[i]!) <= bound[i]!, `${JSON.stringify(c)} element ${i}: ${results[0]![i]} against ${want[i]}`);
      }
      assert.deepEqual(results[1], results[0], 'one image per chunk');
      assert.deepEqual(results[2], results[0], 'two images per chunk, on one thread');
      tf.dispose([x, filter, bias]);
    });
  });

  it('direct convolutions of few input channels (first layers) equal a float64 reference, with the same bits threaded or not', () => {
    const instance = gemmInstance(backend())!;
    const cases = [
      // cnn-small's first layer (4 pixels a block, whole rows); a row of 7 (a block of 3); valid padding, no bias; a
      // 5x3 filter on 2 channels; 4 channels and 24 outputs (3 panels).
      { x: [5, 28, 28, 1], f: [3, 3, 1, 32], pad: 'same' as const, bias: true, relu: true },
      { x: [3, 9, 7, 3], f: [3, 3, 3, 16], pad: 'valid' as const, bias: false, relu: false },
      { x: [2, 6, 5, 2], f: [5, 3, 2, 8], pad: 'same' as const, bias: true, relu: true },
      { x: [3, 8, 9, 4], f: [1, 3, 4, 24], pad: 'same' as const, bias: true, relu: false },
    ];
    cases.forEach((c, i) => {
      const { n, cout, info, want, bound, x, filter, bias } = forwardCase(c, 90 + 3 * i, 0.5);
      assert.ok(directConvApplies(info), `${JSON.stringify(c)} takes the direct path`);
      // A ReLU layer of even height and width also pools its output ahead (2x2, stride 2), which MaxPool then returns.
      const poolsAhead = c.relu && info.outHeight % 2 === 0 && info.outWidth % 2 === 0;
      const [[threaded, threadedPool], [single, singlePool]] = [instance.pool, undefined].map((pool) => withPool(instance, pool, () => {
        const y = tf.engine().makeTensorFromTensorInfo(directConv(backend(), x, filter, c.bias ? bias : undefined, c.relu, info));
        const held = pooledAheadCount();
        const pooled = tf.maxPool(y as tf.Tensor4D, 2, 2, 'valid');
        assert.equal(pooledAheadCount(), poolsAhead ? held - 1 : held, `${JSON.stringify(c)}: the pool made ahead ${poolsAhead ? 'is' : 'is not'} taken`);
        return [y, pooled];
      }));
      for (let i = 0; i < want.length; i++) {
        assert.ok(Math.abs(threaded![i]! - want[i]!) <= bound[i]!, `${JSON.stringify(c)} element ${i}: ${threaded![i]} against ${want[i]}`);
      }
      assert.deepEqual(single, threaded, 'one thread');
      // The pool, whichever way it was made: each window's maximum of y (its first, of equal ones).
      const [oh, ow] = [Math.floor(info.outHeight / 2), Math.floor(info.outWidth / 2)];
      const pooledWant = new Float32Array(n * oh * ow * cout).map((_, i) => {
        const [b, r, q, ch] = [Math.floor(i / (oh * ow * cout)), Math.floor(i / (ow * cout)) % oh, Math.floor(i / cout) % ow, i % cout];
        const at = (dr: number, dq: number) => threaded![((b * info.outHeight + 2 * r + dr) * info.outWidth + 2 * q + dq) * cout + ch]!;
        return Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
      });
      assert.deepEqual(threadedPool, pooledWant, `${JSON.stringify(c)}: the max pool`);
      assert.deepEqual(singlePool, pooledWant, `${JSON.stringify(c)}: the max pool, one thread`);
      tf.dispose([x, filter, bias]);
    });
  });

  // The input gradient of 3-wide filters (input_grad_k3) and the direct filter gradient (filter_grad_direct): each sums
  // the same terms x w dy as the forward, gathered per input element or per filter element.
  const gradientCases = {
    'the few-channel input gradient (3-wide filters)': [
      { x: [5, 28, 28, 1], f: [3, 3, 1, 32], pad: 'same' as const },
      { x: [3, 9, 7, 3], f: [3, 3, 3, 16], pad: 'valid' as const },
      { x: [2, 6, 5, 2], f: [5, 3, 2, 8], pad: 'same' as const },
      { x: [2, 4, 3, 1], f: [3, 3, 1, 4], pad: 'same' as const },
    ],
    'the direct filter gradient of few input channels': [
      { x: [9, 28, 28, 1], f: [3, 3, 1, 32], pad: 'same' as const },
      { x: [3, 9, 7, 3], f: [3, 3, 3, 16], pad: 'valid' as const },
      { x: [2, 6, 5, 2], f: [5, 3, 2, 8], pad: 'same' as const },
      { x: [3, 8, 9, 4], f: [1, 3, 4, 24], pad: 'same' as const },
    ],
  };
  for (const [what, cases] of Object.entries(gradientCases)) {
    const input = what.includes('input');
    it(`${what} equals a float64 reference, with the same bits threaded or not`, () => {
      const instance = gemmInstance(backend())!;
      let seed = input ? 110 : 130;
      for (const c of cases) {
        const [n, h, w, cin] = c.x as [number, number, number, number];
        const [fh, fw, , cout] = c.f as [number, number, number, number];
        const info = tf.backend_util.computeConv2DInfo([n, h, w, cin], [fh, fw, cin, cout], 1, 1, c.pad, undefined, false, 'channelsLast');
        const dyShape = [n, info.outHeight, info.outWidth, cout];
        const xv = seededValues(n * h * w * cin, seed++);
        const fv = seededValues(fh * fw * cin * cout, seed++, 0.5);
        const dyv = seededValues(n * info.outHeight * info.outWidth * cout, seed++);
        // dx[iy, ix, i]: the terms dy[oy, ox, o] w[ky, kx, i, o] of the outputs whose window holds (iy, ix); dW[ky, kx,
        // i, o]: the terms x[oy + ky - top, ox + kx - left, i] dy[oy, ox, o] over images and output positions.
        const want = new Float64Array(input ? xv.length : fv.length);
        const magnitude = new Float64Array(want.length);
        convTerms(info, (xAt, fAt, yAt) => {
          const term = input ? dyv[yAt]! * fv[fAt]! : xv[xAt]! * dyv[yAt]!;
          want[input ? xAt : fAt] += term;
          magnitude[input ? xAt : fAt] += Math.abs(term);
        });
        const terms = input ? fh * fw * cout : n * info.outHeight * info.outWidth;
        const [x, filter, dy] = [tf.tensor(xv, c.x), tf.tensor(fv, c.f), tf.tensor(dyv, dyShape)];
        const attrs = { strides: 1, pad: c.pad, ...(input ? { inputShape: c.x } : { filterShape: c.f }) } as unknown as tf.NamedAttrMap;
        const [threaded, single] = [instance.pool, undefined].map((pool) => withPool(instance, pool, () =>
          [tf.engine().runKernel(input ? tf.Conv2DBackpropInput : tf.Conv2DBackpropFilter, input ? { dy, filter } : { x, dy }, attrs) as tf.Tensor])[0]!);
        for (let i = 0; i < want.length; i++) {
          const bound = terms * 2 ** -23 * magnitude[i]! + 1e-30;
          assert.ok(Math.abs(threaded![i]! - want[i]!) <= bound, `${JSON.stringify(c)} element ${i}: ${threaded![i]} against ${want[i]}`);
        }
        assert.deepEqual(single, threaded, 'one thread');
        tf.dispose([x, filter, dy]);
      }
    });
  }

  it('the im2col filter gradient (stride 2) gives the same bits with its im2col split over the worker threads and on one', () => {
    const instance = gemmInstance(backend())!;
    const x = tf.tensor(seededValues(8 * 17 * 17 * 16, 71), [8, 17, 17, 16]);
    const filter = tf.tensor(seededValues(3 * 3 * 16 * 24, 72), [3, 3, 16, 24]);
    const filterGradient = () => [tf.grad((f: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'same').square().sum())(filter)];
    const [threaded] = withPool(instance, instance.pool, filterGradient);
    const [single] = withPool(instance, undefined, filterGradient);
    assert.deepEqual(threaded, single);
    tf.dispose([x, filter]);
  });

  it('accumulates into C when asked (C += A B)', () => {
    const instance = gemmInstance(backend())!;
    const [m, k, n] = [6, 300, 11];
    const av = seededValues(m * k, 21);
    const bv = seededValues(k * n, 22);
    const start = seededValues(m * n, 23);
    const a = tf.tensor(av, [m, k]);
    const b = tf.tensor(bv, [k, n]);
    const c = tf.tensor(start, [m, n]);
    gemm(backend(), instance, { a: { data: a, rowStride: k, colStride: 1 }, b: { data: b, rowStride: n, colStride: 1 }, c: { data: c, ldc: n }, m, n, k, accumulate: true });
    const want = reference(av, bv, m, n, k, false, false);
    const got = c.dataSync();
    for (let i = 0; i < m * n; i++) assert.ok(Math.abs(got[i]! - (start[i]! + want.value[i]!)) <= want.bound[i]! + 2 ** -22, `element ${i}`);
    tf.dispose([a, b, c]);
  });

  it('leaves no tensor behind', () => {
    const a = tf.tensor(seededValues(64 * 300, 31), [64, 300]);
    const b = tf.tensor(seededValues(300 * 40, 32), [300, 40]);
    const step = (): void => tf.tidy(() => void tf.matMul(tf.matMul(a, b), b, false, true));
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([a, b]);
  });

  it('GEMM_MR is the generator\'s', async () => {
    const generator = '../../scripts/gemm-wat.mjs';
    const { GEMM_MR: generated } = (await import(generator)) as { GEMM_MR: number };
    assert.equal(GEMM_MR, generated);
  });
});

describe('the matrix product\'s switches', () => {
  const child = (env: Record<string, string>) =>
    runNodeScript<{ detail: string; values: number[] }>(
      `
      import * as tf from '${TFJS_URL}';
      import { initBackend } from '${BACKEND}';
      const info = await initBackend('wasm');
      const a = tf.tensor(Array.from({ length: 40 * 700 }, (_, i) => Math.sin(i)), [40, 700]);
      const b = tf.tensor(Array.from({ length: 700 * 24 }, (_, i) => Math.cos(i * 0.7)), [700, 24]);
      console.log(JSON.stringify({ detail: info.reason, values: Array.from(tf.matMul(a, b).dataSync()) }));
      `,
      env,
    );

  it('TEMPER_FMA=0 multiplies then adds, TEMPER_GEMM=0 leaves products to XNNPACK; all agree within rounding', () => {
    const fused = child({});
    const unfused = child({ TEMPER_FMA: '0' });
    const xnnpack = child({ TEMPER_GEMM: '0' });
    assert.match(unfused.detail, /matrix products: temper's\)/);
    assert.doesNotMatch(xnnpack.detail, /matrix products/);
    // k = 700 products of values in [-1, 1]: any order and either rounding stays within 700 2^-23 of the others.
    for (const other of [unfused, xnnpack]) {
      assert.equal(other.values.length, fused.values.length);
      for (let i = 0; i < fused.values.length; i++) assert.ok(Math.abs(other.values[i]! - fused.values[i]!) <= 2 * 700 * 2 ** -23, `element ${i}`);
    }
    if (/with FMA/.test(fused.detail)) {
      // Fused and unfused rounding differ somewhere in 960 sums of 700 terms.
      assert.notDeepEqual(fused.values, unfused.values);
    }
  });

  it('a value of TEMPER_GEMM or TEMPER_FMA that means nothing stops the wasm backend, naming it', () => {
    for (const [name, value] of [['TEMPER_GEMM', 'yes'], ['TEMPER_FMA', '2']] as const) {
      const result = runNodeScript<{ ok: boolean; detail: string }>(
        `
        import { probeBackends } from '${BACKEND}';
        const wasm = (await probeBackends()).find((p) => p.backend === 'wasm');
        console.log(JSON.stringify({ ok: wasm.ok, detail: wasm.detail }));
        `,
        { [name]: value },
      );
      assert.equal(result.ok, false);
      assert.match(result.detail, new RegExp(`${name} must be one of 0, 1`));
    }
  });
});
