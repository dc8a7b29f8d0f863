// The multithreaded wasm backend: it starts in Node, sizes its pool as asked, leaves nothing patched, lets the process
// exit on its own, and computes bit for bit what the single-threaded build computes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_WASM_THREADS, threadsPerJob, wasmThreadCount, wasmThreadsForJobs } from '../src/backend/wasm-threads.js';
import { distUrl, repoRoot, temperCli, tempDir, TFJS_URL } from './helpers.js';

// The file the project's own modules load, so the child script (outside the repository) shares their tfjs instance.

// Trains cnn-small for a few steps on fixed data, then prints the pool size, a hash of the weights and of an input
// gradient, and whether the globals the loader patches are the originals again. It does not call process.exit: the
// parent's timeout catches a process that the pool's worker threads keep alive.
const CHILD = `
import os from 'node:os';
import { createHash } from 'node:crypto';
const originals = { createObjectURL: URL.createObjectURL, cpus: os.cpus };
const tf = await import(${JSON.stringify(TFJS_URL)});
const { initBackend } = await import(${JSON.stringify(distUrl('src/backend/index.js'))});
const { wasmThreadsInUse } = await import(${JSON.stringify(distUrl('src/backend/wasm-threads.js'))});
const { createModel } = await import(${JSON.stringify(distUrl('src/models/index.js'))});
const info = await initBackend('wasm');
const model = createModel('cnn-small', { inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
const optimizer = tf.train.adam(0.01);
const x = tf.randomUniform([32, 28, 28, 1], 0, 1, 'float32', 7);
const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 10), 'int32'), 10);
for (let i = 0; i < 3; i++) {
  tf.tidy(() => optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true)).dispose();
}
const hash = createHash('sha256');
for (const w of model.getWeights()) hash.update(Buffer.from(w.dataSync().buffer));
hash.update(Buffer.from(tf.grad((v) => tf.sum(model.apply(v)))(x).dataSync().buffer));
console.log(JSON.stringify({
  reason: info.reason,
  threads: wasmThreadsInUse(),
  hash: hash.digest('hex'),
  restored: URL.createObjectURL === originals.createObjectURL && os.cpus === originals.cpus,
}));
`;

function runChild(threads: string): { reason: string; threads: number; hash: string; restored: boolean } {
  const script = join(tempDir('temper-threads-'), 'child.mjs');
  writeFileSync(script, CHILD);
  const started = Date.now();
  const result = spawnSync(process.execPath, [script], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, TEMPER_WASM_THREADS: threads },
    cwd: repoRoot,
  });
  assert.equal(result.signal, null, `the process did not exit on its own within ${Date.now() - started} ms: ${result.stderr}`);
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

describe('wasm threads', () => {
  it('runs a pool of 2 threads, restores what it patched, exits on its own, and matches 1 thread bit for bit', () => {
    const two = runChild('2');
    assert.equal(two.threads, 2, two.reason);
    assert.match(two.reason, /2 threads/);
    assert.ok(two.restored, 'URL.createObjectURL and os.cpus are the originals after initialisation');
    const one = runChild('1');
    assert.equal(one.threads, 1, one.reason);
    assert.match(one.reason, /1 thread\b/);
    assert.equal(two.hash, one.hash, 'weights after training and an input gradient are identical with 1 and 2 threads');
  });

  it('reads TEMPER_WASM_THREADS and refuses nonsense', () => {
    assert.equal(wasmThreadCount({ TEMPER_WASM_THREADS: '3' }), 3);
    assert.equal(wasmThreadCount({ TEMPER_WASM_THREADS: '64' }), MAX_WASM_THREADS);
    assert.ok(wasmThreadCount({}) >= 1);
    for (const bad of ['0', '-1', '1.5', 'two']) {
      assert.throws(() => wasmThreadCount({ TEMPER_WASM_THREADS: bad }), /TEMPER_WASM_THREADS must be a whole number/);
    }
  });

  it('a bad TEMPER_WASM_THREADS stops `temper run` with exit 2, the message alone, and nothing written', () => {
    const out = join(tempDir('temper-threads-out-'), 'results');
    const result = temperCli(['run', join(repoRoot, 'configs', 'quickstart.json'), '--out', out, '--backend', 'wasm'], { TEMPER_WASM_THREADS: 'two' });
    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stderr.trim(), "temper: TEMPER_WASM_THREADS must be a whole number of threads >= 1, found 'two'");
    assert.ok(!existsSync(out), 'no results folder');
  });

  it('shares the cores out between --jobs processes unless the user said otherwise', () => {
    assert.equal(threadsPerJob(2, 2), 1);
    assert.equal(threadsPerJob(3, 2), 1);
    assert.equal(threadsPerJob(2, 16), 8);
    assert.equal(threadsPerJob(4, 16), 4);
    assert.equal(wasmThreadsForJobs(2, { TEMPER_WASM_THREADS: '2' }), 2);
    assert.equal(wasmThreadsForJobs(1, { TEMPER_WASM_THREADS: '1' }), 1);
  });
});
