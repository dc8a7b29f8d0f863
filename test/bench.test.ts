import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { temperCli, wasmBackend } from './helpers.js';
import { CPU_PLAN, STANDARD_PLAN, DEFAULT_BENCH_SETTINGS, formatRate, measureStep, median, planFor, type BenchSettings, type StepPlan } from '../src/bench/measure.js';
import { BENCH_MODEL_SPECS, BENCH_MODELS, DEFAULT_BENCH_MODELS, type BenchModelName } from '../src/bench/models.js';
import { formatBench, runBench, type BenchReport } from '../src/bench/run.js';

// Tiny batches and step counts: the numbers mean nothing here, only that they are measured and nothing leaks.
const QUICK: StepPlan = { batch: 4, warmupSteps: 1, minSteps: 2, minSeconds: 0, maxSeconds: 30 };
// The paper-class nets at batch 2, so that each measurement stays a few seconds.
const QUICK_PLANS: Record<BenchModelName, StepPlan> = { 'cnn-small': QUICK, 'vgg6-bn': QUICK, resnet18: { ...QUICK, batch: 2 }, 'vit-tiny': { ...QUICK, batch: 2 } };
const QUICK_SETTINGS: BenchSettings = { ...DEFAULT_BENCH_SETTINGS, batch: 4, warmupSteps: 1, minSteps: 1, minSeconds: 0 };
const QUICK_FLAGS = ['--batch', '4', '--warmup', '1', '--min-steps', '1', '--min-seconds', '0', '--quiet'];
// Project kernels on in the child processes whatever the test runner's environment says.
const KERNELS_ON = { TEMPER_STOCK_KERNELS: '' };

describe('temper bench', () => {
  before(async () => {
    await wasmBackend();
  });

  it('the benchmark models have the shapes of PERF.md and give 10 logits', () => {
    const vgg = BENCH_MODEL_SPECS['vgg6-bn'].build(0);
    try {
      const convs = vgg.layers.filter((layer) => layer.getClassName() === 'Conv2D').map((layer) => (layer.getConfig() as { filters: number }).filters);
      assert.deepEqual(convs, [64, 64, 128, 128, 256, 256]);
      assert.equal(vgg.layers.filter((layer) => layer.getClassName() === 'BatchNormalization').length, 6);
      assert.equal(vgg.layers.filter((layer) => layer.getClassName() === 'MaxPooling2D').length, 3);
      assert.deepEqual(vgg.outputs[0]!.shape, [null, 10]);
      assert.deepEqual(vgg.inputs[0]!.shape, [null, 32, 32, 3]);
    } finally {
      vgg.dispose();
    }
    const cnn = BENCH_MODEL_SPECS['cnn-small'].build(0);
    assert.deepEqual(cnn.inputs[0]!.shape, [null, 28, 28, 1]);
    assert.deepEqual(cnn.outputs[0]!.shape, [null, 10]);
    cnn.dispose();
  });

  it('resnet18 and vit-tiny are the registered architectures on 32x32x3 with 10 logits, measured only when named', () => {
    for (const name of ['resnet18', 'vit-tiny'] as const) {
      const model = BENCH_MODEL_SPECS[name].build(0);
      assert.deepEqual(model.inputs[0]!.shape, [null, 32, 32, 3], name);
      assert.deepEqual(model.outputs[0]!.shape, [null, 10], name);
      model.dispose();
    }
    assert.deepEqual(DEFAULT_BENCH_MODELS, ['cnn-small', 'vgg6-bn']);
    assert.deepEqual(DEFAULT_BENCH_SETTINGS.models, DEFAULT_BENCH_MODELS);
    assert.equal(planFor('cpu', 'resnet18', DEFAULT_BENCH_SETTINGS).batch, 1);
    assert.equal(planFor('cpu', 'vit-tiny', DEFAULT_BENCH_SETTINGS).batch, 1);
  });

  it('the same seed builds the same vgg6-bn weights, another seed different ones', () => {
    const weights = (seed: number) => {
      const model = BENCH_MODEL_SPECS['vgg6-bn'].build(seed);
      const values = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      return values;
    };
    const first = weights(3);
    assert.deepEqual(weights(3), first);
    assert.notDeepEqual(weights(4), first);
  });

  for (const model of BENCH_MODELS) {
    for (const what of ['train', 'pgd'] as const) {
      it(`measures a ${what} step of ${model} on wasm: positive finite images/s, no tensor left behind`, async () => {
        const tensorsBefore = tf.memory().numTensors;
        const plan = QUICK_PLANS[model];
        const m = await measureStep(model, what, plan, 0);
        assert.equal(m.error, null);
        assert.equal(m.batch, plan.batch);
        assert.equal(m.warmupSteps, 1);
        assert.ok(m.steps >= 2, `${m.steps} timed steps`);
        assert.equal(m.stepMs.length, m.steps);
        assert.ok(m.stepMs.every((ms) => Number.isFinite(ms) && ms > 0));
        assert.equal(m.msPerStep, median(m.stepMs));
        assert.ok(Number.isFinite(m.imagesPerSecond) && m.imagesPerSecond! > 0, `images/s ${m.imagesPerSecond}`);
        assert.ok(Math.abs(m.imagesPerSecond! - (plan.batch * 1000) / m.msPerStep!) < 1e-9);
        assert.equal(m.capped, false);
        // Steady state: the timed steps keep nothing; the model, inputs and optimiser are freed afterwards.
        assert.ok(m.memory.before!.numTensors > 0);
        assert.deepEqual(m.memory.after, m.memory.before);
        assert.equal(tf.memory().numTensors, tensorsBefore);
      });
    }
  }

  it('stops at maxSeconds after one timed step even below minSteps, and says it was capped', async () => {
    const m = await measureStep('cnn-small', 'pgd', { batch: 2, warmupSteps: 0, minSteps: 1000, minSeconds: 1000, maxSeconds: 0 }, 0);
    assert.equal(m.steps, 1);
    assert.equal(m.capped, true);
    assert.ok(m.imagesPerSecond! > 0);
  });

  it('plans batch 128 with 2 warm-up and 3 timed steps, smaller on cpu, and the settings override both', () => {
    const defaults = DEFAULT_BENCH_SETTINGS;
    assert.deepEqual(planFor('wasm', 'vgg6-bn', defaults), { ...STANDARD_PLAN, minSeconds: 2, maxSeconds: 60 });
    assert.deepEqual(planFor('tensorflow', 'cnn-small', defaults), { ...STANDARD_PLAN, minSeconds: 2, maxSeconds: 60 });
    const cpu = planFor('cpu', 'cnn-small', defaults);
    assert.ok(cpu.batch < 128 && cpu.batch === CPU_PLAN.batch['cnn-small']);
    assert.ok(cpu.warmupSteps >= 1 && cpu.minSteps >= 1);
    assert.deepEqual(planFor('cpu', 'vgg6-bn', { ...defaults, batch: 8, warmupSteps: 2, minSteps: 3 }), { batch: 8, warmupSteps: 2, minSteps: 3, minSeconds: 2, maxSeconds: 60 });
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(formatRate(296.6), '297');
    assert.equal(formatRate(0.03949), '0.0395');
  });

  it('runBench on wasm reports versions, kernels, the backend and every measurement as plain JSON', async () => {
    const report = await runBench('wasm', { ...QUICK_SETTINGS, models: ['cnn-small'] }, { quiet: true });
    const json = JSON.parse(JSON.stringify(report)) as BenchReport;
    assert.deepEqual(json, report, 'nothing is lost in JSON (no undefined, NaN or Infinity)');
    assert.ok(!Number.isNaN(Date.parse(json.date)));
    for (const key of ['temper', 'node', 'tfjs-core']) assert.equal(typeof json.versions[key], 'string', key);
    assert.equal(json.kernels.project, process.env['TEMPER_STOCK_KERNELS'] !== '1');
    assert.equal(json.settings.backend, 'wasm');
    assert.equal(json.settings.temperature, 10);
    assert.equal(json.complete, true);
    assert.equal(json.backends.length, 1);
    const wasm = json.backends[0]!;
    assert.equal(wasm.backend, 'wasm');
    assert.equal(wasm.loaded, true);
    assert.equal(wasm.error, null);
    assert.equal(wasm.provider, '@tensorflow/tfjs-backend-wasm');
    assert.match(wasm.providerVersion ?? '', /^\d+\.\d+\.\d+/);
    assert.match(wasm.device ?? '', /^simd (on|off), [1-8] threads?$/);
    assert.deepEqual(wasm.measurements.map((m) => `${m.model} ${m.what}`), ['cnn-small train', 'cnn-small pgd']);
    const table = formatBench(report);
    assert.match(table, /^wasm\s+cnn-small\s+train\s+4\s+1\s+\d+\s+[\d.]+\s+[\d.]+\s+\d+\s+\d+$/m);
    assert.match(table, /^wasm\s+cnn-small\s+pgd\s+4\s/m);
  });

  it('a backend that does not load is reported with the reason, not measured, and the run is incomplete', async () => {
    // This process already runs wasm, and a process keeps its first backend, so cpu cannot load here.
    const report = await runBench('cpu', QUICK_SETTINGS, { quiet: true });
    assert.equal(report.complete, false);
    assert.equal(report.backends[0]!.loaded, false);
    assert.match(report.backends[0]!.error ?? '', /cannot switch to "cpu"/);
    assert.deepEqual(report.backends[0]!.measurements, []);
    assert.match(formatBench(report), /cpu: not measured: .*cannot switch/);
  });

  it('`temper bench --backend wasm --json` exits 0 and prints JSON naming wasm', () => {
    const result = temperCli(['bench', '--backend', 'wasm', '--json', ...QUICK_FLAGS], KERNELS_ON);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as BenchReport;
    assert.equal(report.backends.length, 1);
    assert.equal(report.backends[0]!.backend, 'wasm');
    assert.equal(report.kernels.project, true);
    assert.deepEqual(
      report.backends[0]!.measurements.map((m) => `${m.model} ${m.what} ${m.batch}`),
      ['cnn-small train 4', 'cnn-small pgd 4', 'vgg6-bn train 4', 'vgg6-bn pgd 4'],
    );
    for (const m of report.backends[0]!.measurements) assert.ok(m.imagesPerSecond! > 0 && m.memory.after!.numTensors === m.memory.before!.numTensors);
  });

  it('`--backend nope` is bad usage: exit 2', () => {
    const result = temperCli(['bench', '--backend', 'nope']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^temper: --backend nope: expected one of: auto, tensorflow, webgpu, wasm, cpu\. Here auto would pick /);
    assert.equal(temperCli(['bench', '--backend', 'wasm', '--min-steps', '0']).status, 2);
  });

  it('a step that fails (stock tfjs-wasm cannot train convolutions) is reported and exits 1', () => {
    const result = temperCli(['bench', '--backend', 'wasm', '--model', 'cnn-small', '--what', 'train', ...QUICK_FLAGS], { TEMPER_STOCK_KERNELS: '1' });
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stdout, /project kernels off \(TEMPER_STOCK_KERNELS=1\)/);
    assert.match(result.stdout, /^wasm\s+cnn-small\s+train\s+4\s+1\s+0\s+failed/m);
    assert.match(result.stdout, /Conv2DBackpropFilter/);
  });

  it('a named backend that does not load exits 1 and says why (tensorflow, unless tfjs-node is installed)', () => {
    const result = temperCli(['bench', '--backend', 'tensorflow', '--json', '--model', 'cnn-small', '--what', 'pgd', ...QUICK_FLAGS], KERNELS_ON);
    const report = JSON.parse(result.stdout) as BenchReport;
    if (report.backends[0]!.loaded) {
      assert.equal(result.status, 0, result.stderr);
    } else {
      assert.equal(result.status, 1);
      assert.match(result.stderr, /temper: backend "tensorflow" does not load: /);
      assert.match(report.backends[0]!.error ?? '', /does not load/);
    }
  });
});
