// The wasm FusedBatchNorm kernel (src/backend/kernels/batch-norm.ts) gives the stock tfjs-wasm kernel's bits: the same
// cases run in a child process with TEMPER_STOCK_KERNELS=1 and in one with the project kernels, and their outputs
// are compared byte for byte; the project kernel is the one that ran, and it leaks nothing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { distUrl, runNodeScript, TFJS_URL } from './helpers.js';

// Each case: x's shape, which of scale and offset are given and with how many values, and values with edge cases
// mixed in (exact zeros, negative zeros, a NaN, huge and tiny magnitudes, a zero variance).
const CHILD = `
import { createHash } from 'node:crypto';
const tf = await import(${JSON.stringify(TFJS_URL)});
const { initBackend } = await import(${JSON.stringify(distUrl('src/backend/index.js'))});
await initBackend('wasm');
function values(n, seed, special) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; a[i] = (s / 2 ** 31 - 1) * 3; }
  if (special) { a[0] = 0; a[1] = -0; if (n > 5) { a[2] = NaN; a[3] = 3e38; a[4] = 1e-40; } }
  return a;
}
const cases = [
  { x: [2, 5, 4, 8], scale: 8, offset: 8 },
  { x: [3, 7, 12], scale: 0, offset: 0 },
  { x: [9, 16], scale: 1, offset: 16 },
  { x: [2, 3, 3, 64], scale: 64, offset: 1 },
  { x: [4, 6], scale: 6, offset: 6 },
  { x: [1, 1, 1, 4], scale: 4, offset: 0 },
];
const out = [];
for (const [k, c] of cases.entries()) {
  const channels = c.x.at(-1);
  const size = c.x.reduce((a, b) => a * b, 1);
  const variance = values(channels, 40 + k).map(Math.abs);
  variance[0] = 0;
  const y = tf.tidy(() => tf.batchNorm(
    tf.tensor(values(size, 10 + k, true), c.x), tf.tensor1d(values(channels, 20 + k)), tf.tensor1d(variance),
    c.offset ? tf.tensor1d(values(c.offset, 30 + k)) : undefined, c.scale ? tf.tensor1d(values(c.scale, 50 + k)) : undefined, 1e-3));
  out.push(createHash('sha256').update(Buffer.from(y.dataSync().buffer)).digest('hex'));
  y.dispose();
}
const { kernelNames } = await tf.profile(() => tf.batchNorm(tf.ones([2, 4]), tf.zeros([4]), tf.ones([4])));
const before = tf.memory().numTensors;
for (let i = 0; i < 5; i++) tf.tidy(() => tf.batchNorm(tf.ones([2, 8]), tf.zeros([8]), tf.ones([8])).dataSync());
console.log(JSON.stringify({ hashes: out, kernelNames, leaked: tf.memory().numTensors - before }));
`;

function run(env: Record<string, string>): { hashes: string[]; kernelNames: string[]; leaked: number } {
  return runNodeScript(CHILD, env);
}

describe('FusedBatchNorm on wasm', () => {
  it('gives the stock kernel\'s bits, with and without scale and offset, one value for all channels, and channels the SIMD loop does not take', () => {
    const stock = run({ TEMPER_STOCK_KERNELS: '1' });
    const project = run({});
    assert.deepEqual(project.hashes, stock.hashes);
    assert.equal(new Set(project.hashes).size, project.hashes.length, 'the cases give different outputs');
    assert.ok(project.kernelNames.includes('FusedBatchNorm'), project.kernelNames.join());
    assert.equal(project.leaked, 0);
  });
});
