// The webgpu backend (tfjs-webgpu on Dawn) on Mesa's lavapipe, a CPU Vulkan driver, so it runs without a GPU.
// Each backend runs in a child process of its own (one backend per process, as in `temper run`); the cpu child gives
// the reference values. Needs lavapipe from Mesa 25 or newer: Dawn rejects older ones (Debian bookworm's 22.3 among
// them) with "Vulkan shaderUniform*ArrayDynamicIndexing required"; .ci/run installs it from bookworm-backports.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { unlessInstalled } from './system.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const srcUrl = pathToFileURL(resolve(import.meta.dirname, '..', 'src')).href;

/** Mesa's lavapipe ICD: the children use it alone, so the tests run on the same adapter with or without a GPU. */
const LAVAPIPE_ICD = ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', '/usr/share/vulkan/icd.d/lvp_icd.aarch64.json', '/usr/share/vulkan/icd.d/lvp_icd.json']
  .find((path) => existsSync(path));

const NO_LAVAPIPE = 'these tests need Mesa\'s lavapipe (a CPU Vulkan driver), version 25 or newer: on Debian bookworm ' +
  '`apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1` (bookworm\'s own 22.3 is rejected by Dawn), as .ci/run does';

/** Filter-gradient cases (x shape, filter size and count, stride, padding), as in test/kernels.test.ts. */
const CASES = [
  { x: [1, 7, 7, 1], kernel: 3, outChannels: 4, stride: 1, pad: 'same' },
  { x: [4, 9, 7, 3], kernel: 3, outChannels: 8, stride: 1, pad: 'valid' },
  { x: [4, 9, 9, 3], kernel: 3, outChannels: 5, stride: 2, pad: 'same' },
  { x: [1, 11, 10, 8], kernel: 3, outChannels: 8, stride: 2, pad: 'valid' },
  { x: [4, 8, 8, 8], kernel: 1, outChannels: 3, stride: 1, pad: 'same' },
  { x: [1, 7, 9, 3], kernel: 1, outChannels: 8, stride: 2, pad: 'valid' },
  { x: [4, 13, 11, 1], kernel: 5, outChannels: 8, stride: 1, pad: 'same' },
  { x: [1, 12, 13, 3], kernel: 5, outChannels: 1, stride: 2, pad: 'same' },
  { x: [2, 8, 7, 3], kernel: 3, outChannels: 4, stride: 1, pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
  { x: [2, 8, 7, 3], kernel: 3, outChannels: 4, stride: [2, 1], pad: [[0, 0], [3, 1], [0, 4], [0, 0]] },
] as const;

const TRAIN = { inputShape: [12, 12, 1], batch: 8, steps: 3, temperature: 2, learningRate: 0.1 } as const;

/**
 * The child: initialises one backend, then prints one JSON line with the backend info, the Conv2DBackpropFilter
 * kernel's output for every case, losses of a few cnn-small SGD steps, and (webgpu) chunking, fallback and leak
 * checks. It never calls process.exit: the test also checks that Dawn lets the process end by itself.
 */
const CHILD = String.raw`
const [srcUrl, backendName, casesJson, trainJson] = process.argv.slice(1);
const tf = await import('@tensorflow/tfjs');
const { initBackend } = await import(srcUrl + '/backend/index.js');
const { createModel } = await import(srcUrl + '/models/index.js');
const { temperatureCrossEntropy } = await import(srcUrl + '/attacks/losses.js');
const { makeWebGPUConv2DBackpropFilterConfig } = await import(srcUrl + '/backend/kernels/conv2d-backprop-filter-webgpu.js');
const seconds = {};
let clock = performance.now();
const lap = (name) => { seconds[name] = (performance.now() - clock) / 1000; clock = performance.now(); };

/** Values in [-1, 1) from a 32-bit LCG, the same in every process. */
function seeded(size, seed) {
  const values = new Float32Array(size);
  let state = seed >>> 0;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = state / 2 ** 31 - 1;
  }
  return values;
}
const sizeOf = (shape) => shape.reduce((a, b) => a * b, 1);

let info;
try {
  info = await initBackend(backendName);
} catch (error) {
  console.log(JSON.stringify({ error: error.message }));
  process.exitCode = 3;
}
if (info) {
  lap('init');
  const cases = JSON.parse(casesJson);
  const filterGradient = (c, seed) => tf.tidy(() => {
    const filterShape = [c.kernel, c.kernel, c.x[3], c.outChannels];
    const outShape = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.stride, 1, c.pad).outShape;
    const x = tf.tensor(seeded(sizeOf(c.x), seed), c.x);
    const dy = tf.tensor(seeded(sizeOf(outShape), seed + 1), outShape);
    return tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape });
  });
  // webgpu has no synchronous reads.
  const read = async (t) => { const values = Array.from(await t.data()); t.dispose(); return values; };
  const kernels = [];
  for (const [i, c] of cases.entries()) kernels.push(await read(filterGradient(c, 10 * i + 1)));
  lap('kernels');

  // Chunks of images (a limit of 5,000 floats: 2 images of x [5, 9, 9, 3] at a time) and the stock fallback
  // (a limit below one image's columns), each with a stand-in for the stock kernel that counts its calls.
  const chunkCase = { x: [5, 9, 9, 3], kernel: 3, outChannels: 4, stride: 1, pad: 'same' };
  let limits = {};
  if (info.name === 'webgpu') {
    const project = tf.getKernel(tf.Conv2DBackpropFilter, 'webgpu');
    const withLimit = async (limit) => {
      let stockCalls = 0;
      const stock = (args) => { stockCalls++; return project.kernelFunc(args); };
      tf.unregisterKernel(tf.Conv2DBackpropFilter, 'webgpu');
      tf.registerKernel(makeWebGPUConv2DBackpropFilterConfig(stock, limit));
      try {
        return { values: await read(filterGradient(chunkCase, 99)), stockCalls };
      } finally {
        tf.unregisterKernel(tf.Conv2DBackpropFilter, 'webgpu');
        tf.registerKernel(project);
      }
    };
    limits = { chunked: await withLimit(5000), fallback: await withLimit(100), whole: await withLimit(1 << 20) };
  } else {
    limits = { reference: { values: await read(filterGradient(chunkCase, 99)), stockCalls: 0 } };
  }
  lap('limits');

  const train = JSON.parse(trainJson);
  const model = createModel('cnn-small', { inputShape: train.inputShape, numClasses: 10, seed: 3 });
  const images = tf.tensor4d(seeded(train.batch * sizeOf(train.inputShape), 5).map((v) => (v + 1) / 2), [train.batch, ...train.inputShape]);
  const labels = tf.tensor1d(Array.from({ length: train.batch }, (_, i) => i % 10), 'int32');
  const optimizer = tf.train.sgd(train.learningRate);
  const losses = [];
  for (let step = 0; step < train.steps; step++) {
    const cost = optimizer.minimize(() => tf.mean(temperatureCrossEntropy(model.apply(images, { training: true }), labels, train.temperature)), true);
    losses.push((await cost.data())[0]);
    cost.dispose();
  }
  lap('training');

  // Adam: the one-kernel update against tfjs's, on the same backend. The second variable has more elements than one
  // dispatch dimension can cover (65,535 workgroups of 64), so the update's 2-D dispatch is exercised too.
  const { FusedAdamOptimizer } = await import(srcUrl + '/train/fused-adam.js');
  const adamRun = async (optimizer) => {
    const w = tf.variable(tf.tensor(seeded(300, 41), [10, 30]));
    const big = tf.variable(tf.tensor(seeded(65535 * 64 + 5, 42)));
    const x = tf.tensor(seeded(120, 43), [30, 4]);
    const loss = () => tf.add(tf.sum(tf.square(tf.matMul(w, x))), tf.mul(tf.sum(tf.square(big)), 1e-3));
    for (let i = 0; i < 3; i++) tf.tidy(() => void optimizer.minimize(loss));
    const profile = await tf.profile(() => tf.tidy(() => void optimizer.minimize(loss)));
    const bigValues = await big.data();
    const result = { w: await read(w), bigHead: Array.from(bigValues.slice(0, 50)), bigTail: Array.from(bigValues.slice(-50)), kernels: profile.kernels.map((k) => k.name) };
    tf.dispose([big, x]);
    optimizer.dispose();
    return result;
  };
  const adam = { stock: await adamRun(tf.train.adam(0.01)), fused: await adamRun(new FusedAdamOptimizer(0.01, 0.9, 0.999)) };
  lap('adam');

  // Leaks: tensors and backend buffers after 10 more filter gradients equal those before.
  const backend = tf.backend();
  const count = () => ({ tensors: tf.memory().numTensors, buffers: backend.numDataIds() });
  tf.dispose(filterGradient(cases[2], 7));
  const leakBefore = count();
  for (let i = 0; i < 10; i++) tf.dispose(filterGradient(cases[i % cases.length], 7));
  const leakAfter = count();
  tf.dispose([images, labels]);
  model.dispose();
  console.log(JSON.stringify({ info, kernels, limits, losses, adam, leakBefore, leakAfter, seconds }));
}
`;

interface ChildResult {
  error?: string;
  info: { name: string; provider: string; reason: string; projectKernels: string[] };
  kernels: number[][];
  limits: Record<string, { values: number[]; stockCalls: number }>;
  losses: number[];
  adam: Record<'stock' | 'fused', { w: number[]; bigHead: number[]; bigTail: number[]; kernels: string[] }>;
  leakBefore: { tensors: number; buffers: number };
  leakAfter: { tensors: number; buffers: number };
  seconds: Record<string, number>;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs `code` (an ES module) in a child node process from the repository root; kills it after `timeoutMs`. */
function runNode(code: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<Exit> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
  });
}

/** The JSON line a child printed last; fails with what the child said when it printed none or crashed. */
function parseChild(exit: Exit, what: string): ChildResult {
  const last = exit.stdout.trim().split('\n').at(-1) ?? '';
  let result: ChildResult | undefined;
  try {
    result = JSON.parse(last) as ChildResult;
  } catch {
    result = undefined;
  }
  if (result?.error) assert.fail(`${what}: ${result.error}\n${NO_LAVAPIPE}`);
  if (exit.signal === 'SIGTERM') assert.fail(`${what} did not exit by itself within its time limit (Dawn keeping the event loop alive?)\n${exit.stderr}`);
  assert.ok(result && exit.code === 0, `${what} exited with code ${exit.code}, signal ${exit.signal}:\n${exit.stderr}\n${exit.stdout}`);
  return result;
}

/**
 * Each element is a float32 sum of `terms` products of values in [-1, 1]; summed in another order its rounding
 * error is at most terms * 2^-23, so that is allowed on top of 1e-4 (relative above magnitude 1, absolute below).
 */
function assertClose(got: number[], want: number[], terms: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const tolerance = 1e-4 * Math.max(1, Math.abs(want[i]!)) + terms * 2 ** -23;
    const error = Math.abs(got[i]! - want[i]!);
    if (!(error <= tolerance)) assert.fail(`${what}: element ${i} is ${got[i]}, cpu gives ${want[i]} (error ${error} > ${tolerance})`);
  }
}

/** An upper bound on the output pixels summed into each filter-gradient element (N * OH * OW; pads here are at most 4). */
function termsOf(c: (typeof CASES)[number]): number {
  const stride = typeof c.stride === 'number' ? [c.stride, c.stride] : c.stride;
  const size = (n: number, s: number) => Math.ceil(n / s);
  return c.x[0] * size(c.x[1] + 4, stride[0]) * size(c.x[2] + 4, stride[1]);
}

const CHILD_LIMIT_MS = 150_000;

/** Mesa's version from dpkg where there is one (Dawn needs 25 or newer); elsewhere the ICD file alone decides. */
function mesaNewEnough(): boolean {
  const query = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'mesa-vulkan-drivers'], { encoding: 'utf8' });
  if (query.error) return true;
  return query.status === 0 && Number.parseInt(query.stdout, 10) >= 25;
}

const LAVAPIPE_SKIP = unlessInstalled(LAVAPIPE_ICD !== undefined && mesaNewEnough(), "Mesa's lavapipe 25 or newer (webgpu on a CPU Vulkan driver)",
  'apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 on Debian bookworm (bookworm\'s own Mesa 22.3 is rejected by Dawn)');

describe('webgpu backend on lavapipe (Dawn on a CPU Vulkan driver)', { skip: LAVAPIPE_SKIP }, () => {
  const vulkanEnv: Record<string, string> = LAVAPIPE_ICD ? { VK_DRIVER_FILES: LAVAPIPE_ICD, VK_ICD_FILENAMES: LAVAPIPE_ICD } : {};
  let webgpu: Exit;
  let cpu: Exit;
  let auto: Exit;

  before(async () => {
    assert.ok(LAVAPIPE_ICD, `no lavapipe ICD file in /usr/share/vulkan/icd.d: ${NO_LAVAPIPE}`);
    const args = (backend: string) => [srcUrl, backend, JSON.stringify(CASES), JSON.stringify(TRAIN)];
    const autoCode = `const { initBackend } = await import(process.argv[1] + '/backend/index.js'); console.log(JSON.stringify({ info: await initBackend('auto') }));`;
    [webgpu, cpu, auto] = await Promise.all([
      runNode(CHILD, args('webgpu'), vulkanEnv, CHILD_LIMIT_MS),
      runNode(CHILD, args('cpu'), {}, CHILD_LIMIT_MS),
      runNode(autoCode, [srcUrl], vulkanEnv, CHILD_LIMIT_MS),
    ]);
  });

  it('--backend webgpu initialises on lavapipe, names the adapter, registers the filter gradient, and the process exits by itself', (t) => {
    const result = parseChild(webgpu, 'the webgpu child');
    // Lavapipe compiles every new shader with LLVM (up to seconds each; Mesa caches them on disk): say where time went.
    const laps = Object.entries(result.seconds).map(([name, s]) => `${name} ${s.toFixed(1)} s`).join(', ');
    t.diagnostic(`webgpu child ${webgpu.seconds.toFixed(1)} s (${laps}); cpu child ${cpu.seconds.toFixed(1)} s; auto child ${auto.seconds.toFixed(1)} s`);
    assert.equal(result.info.name, 'webgpu');
    assert.match(result.info.provider, /tfjs-backend-webgpu/);
    assert.match(result.info.reason, /requested with --backend webgpu \(llvmpipe: Mesa .*software adapter \(llvmpipe\)\)/);
    assert.deepEqual(result.info.projectKernels, ['Conv2DBackpropFilter', 'TemperAdamUpdate', 'TemperFusedConv2D', 'TemperFusedMatMul']);
    assert.equal(webgpu.code, 0);
  });

  it('the webgpu Conv2DBackpropFilter equals the cpu backend\'s within 1e-4 (strides 1, 2 and [2, 1]; same, valid, explicit padding)', () => {
    const got = parseChild(webgpu, 'the webgpu child');
    const want = parseChild(cpu, 'the cpu child');
    CASES.forEach((c, i) => assertClose(got.kernels[i]!, want.kernels[i]!, termsOf(c), `case ${i}: x [${c.x}], ${c.kernel}x${c.kernel}x${c.outChannels}, stride ${c.stride}, pad ${JSON.stringify(c.pad)}`));
  });

  it('a batch too large for one im2col matrix is done in chunks of images, one image too large goes to the stock kernel, and both equal cpu', () => {
    const { limits } = parseChild(webgpu, 'the webgpu child');
    const want = parseChild(cpu, 'the cpu child').limits['reference']!.values;
    const terms = 5 * 9 * 9;
    assertClose(limits['whole']!.values, want, terms, 'one matrix');
    assert.equal(limits['whole']!.stockCalls, 0, 'the composed kernel handled the whole batch itself');
    assertClose(limits['chunked']!.values, want, terms, 'in chunks');
    assert.equal(limits['chunked']!.stockCalls, 0, 'the composed kernel handled the chunks itself');
    assertClose(limits['fallback']!.values, want, terms, 'stock fallback');
    assert.equal(limits['fallback']!.stockCalls, 1, 'an image over the limit went to the stock kernel');
  });

  it('three cnn-small SGD steps give the cpu backend\'s losses within 1e-4, and leak no tensor or GPU buffer', () => {
    const got = parseChild(webgpu, 'the webgpu child');
    const want = parseChild(cpu, 'the cpu child');
    assert.equal(got.losses.length, TRAIN.steps);
    assert.ok(want.losses[0]! - want.losses.at(-1)! > 1e-3, `the reference loss should fall: ${want.losses}`);
    got.losses.forEach((loss, i) => assert.ok(Math.abs(loss - want.losses[i]!) <= 1e-4 * Math.max(1, want.losses[i]!), `step ${i + 1}: webgpu loss ${loss}, cpu ${want.losses[i]}`));
    assert.deepEqual(got.leakAfter, got.leakBefore);
  });

  it('Adam updates each variable with one kernel on webgpu and gives tfjs Adam\'s weights within float32 rounding', () => {
    const { adam } = parseChild(webgpu, 'the webgpu child');
    const reference = parseChild(cpu, 'the cpu child').adam;
    assert.equal(adam.fused.kernels.filter((k) => k === 'TemperAdamUpdate').length, 2, adam.fused.kernels.join());
    assert.ok(!adam.fused.kernels.includes('Sqrt') && adam.stock.kernels.includes('Sqrt'));
    assert.ok(!reference.fused.kernels.includes('TemperAdamUpdate'), 'the cpu backend has no such kernel: the stock update runs');
    for (const part of ['w', 'bigHead', 'bigTail'] as const) {
      // 4 steps of at most ~0.01 each; the GPU may fuse a multiply-add where the stock kernels round twice.
      adam.fused[part].forEach((value, i) => {
        const want = adam.stock[part][i]!;
        assert.ok(Math.abs(value - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${part}[${i}]: fused ${value}, stock ${want}`);
      });
      assert.ok(adam.fused[part].some((value, i) => Math.abs(value - reference.stock[part][i]!) < 1e-4), `${part} agrees with the cpu backend too`);
    }
    assert.ok(adam.stock.bigTail.some((value, i) => value !== reference.stock.bigTail[i] || value !== 0), 'the tail of the big variable was updated');
  });

  it('auto does not pick the software adapter: it says so and uses wasm', () => {
    const result = parseChild(auto, 'the auto child');
    assert.equal(result.info.name, 'wasm');
    assert.match(result.info.reason, /webgpu: only a software adapter \(llvmpipe\), skipped/);
  });
});
