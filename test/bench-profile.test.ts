import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tempDir, temperCli, wasmBackend } from './helpers.js';
import { DEFAULT_BENCH_SETTINGS, measureStep, type BenchKind, type Measurement, type StepPlan } from '../src/bench/measure.js';
import { formatProfile, profileStep, summarizeKernels, type KernelCall, type StepProfile } from '../src/bench/profile.js';
import { formatBench, runBench, type BenchReport } from '../src/bench/run.js';

// The smallest measurement that runs every kernel of the step: the figures mean nothing, only what was profiled.
const TINY: StepPlan = { batch: 2, warmupSteps: 1, minSteps: 1, minSeconds: 0, maxSeconds: 30 };
const TINY_FLAGS = ['--model', 'cnn-small', '--batch', '2', '--warmup', '1', '--min-steps', '1', '--min-seconds', '0', '--quiet'];
const KERNELS_ON = { TEMPER_STOCK_KERNELS: '' };

/** The forward convolution under whichever name the backend runs it (project kernels on or off). */
const FORWARD_CONV = /^(Conv2D|FusedConv2D|TemperFusedConv2D)$/;

/** What every profile of a step that ran must satisfy, timed or not. */
function checkProfile(profile: StepProfile | null, label: string): StepProfile {
  assert.ok(profile, `${label}: no profile`);
  assert.ok(profile.kernelCount > 0, label);
  assert.equal(profile.kernels.reduce((sum, k) => sum + k.calls, 0), profile.kernelCount, `${label}: calls add up to the kernel count`);
  assert.equal(new Set(profile.kernels.map((k) => k.name)).size, profile.kernels.length, `${label}: one entry per name`);
  for (const k of profile.kernels) assert.ok(k.calls > 0, `${label}: ${k.name} calls ${k.calls}`);
  assert.ok(Number.isFinite(profile.wallMs) && profile.wallMs > 0, `${label}: wall ${profile.wallMs}`);
  assert.equal(profile.newTensors, 0, `${label}: the profiled step left tensors behind`);
  return profile;
}

function callsOf(profile: StepProfile, name: RegExp): number {
  return profile.kernels.filter((k) => name.test(k.name)).reduce((sum, k) => sum + k.calls, 0);
}

describe('temper bench --profile', () => {
  before(async () => {
    await wasmBackend();
  });

  for (const what of ['train', 'pgd'] as BenchKind[]) {
    it(`profiles one more ${what} step of cnn-small on wasm, outside the timed ones: its convolutions, timed shares summing to 1, no tensor left`, async () => {
      const tensorsBefore = tf.memory().numTensors;
      const m = await measureStep('cnn-small', what, TINY, 0, true);
      assert.equal(m.error, null);
      // --min-steps 1 and --min-seconds 0 stop after exactly one timed step: the profiled one is not among them.
      assert.equal(m.steps, 1);
      assert.equal(m.stepMs.length, 1);
      assert.deepEqual(m.memory.after, m.memory.before);
      assert.equal(tf.memory().numTensors, tensorsBefore);
      const profile = checkProfile(m.profile, what);
      assert.equal(profile.timed, true);
      assert.equal(profile.untimedReason, null);
      // Both steps run cnn-small's convolutions forward and take the input gradient of one; training also the filters'.
      assert.ok(callsOf(profile, FORWARD_CONV) >= 2, profile.kernels.map((k) => k.name).join(', '));
      assert.ok(callsOf(profile, /^Conv2DBackpropInput$/) >= 1);
      if (what === 'train') assert.ok(callsOf(profile, /^Conv2DBackpropFilter$/) >= 2);
      const shares = profile.kernels.reduce((sum, k) => sum + k.share!, 0);
      assert.ok(Math.abs(shares - 1) < 1e-9, `shares sum to ${shares}`);
      assert.ok(profile.kernels.every((k) => k.ms !== null && k.ms >= 0 && Number.isFinite(k.bytesAdded)));
      assert.ok(Math.abs(profile.kernels.reduce((sum, k) => sum + k.ms!, 0) - profile.kernelMs!) < 1e-6);
      // wasm kernels run one at a time inside the step, so their time fits in its wall time.
      assert.ok(profile.kernelMs! > 0 && profile.kernelMs! <= profile.wallMs + 1, `kernel ms ${profile.kernelMs}, wall ${profile.wallMs}`);
      const ms = profile.kernels.map((k) => k.ms!);
      assert.deepEqual(ms, [...ms].sort((a, b) => b - a), 'the most time first');
    });
  }

  it('a kernel run inside another counts its own time and calls, and the outer one only the rest of its time', () => {
    const calls: KernelCall[] = [
      { name: 'Sub', kernelTimeMs: 1, bytesAdded: 100, depth: 1 },
      { name: 'Multiply', kernelTimeMs: 2, bytesAdded: 100, depth: 1 },
      { name: 'FastBatchNormTraining', kernelTimeMs: 4, bytesAdded: 300, depth: 0 },
      { name: 'Sub', kernelTimeMs: 3, bytesAdded: 50, depth: 0 },
    ];
    const summary = summarizeKernels(calls);
    assert.equal(summary.timed, true);
    assert.equal(summary.kernelMs, 7);
    assert.deepEqual(summary.kernels, [
      { name: 'Sub', calls: 2, ms: 4, share: 4 / 7, bytesAdded: 150 },
      { name: 'Multiply', calls: 1, ms: 2, share: 2 / 7, bytesAdded: 100 },
      { name: 'FastBatchNormTraining', calls: 1, ms: 1, share: 1 / 7, bytesAdded: 300 },
    ]);
  });

  it('tells the kernels an op runs inside it from the op itself in a real profile (tf.customGrad)', async () => {
    const x = tf.randomUniform([384, 384]);
    const op = tf.customGrad((a) => ({ value: tf.matMul(tf.matMul(a as tf.Tensor2D, a as tf.Tensor2D), a as tf.Tensor2D), gradFunc: (dy) => dy }));
    const tensorsBefore = tf.memory().numTensors;
    const profile = await profileStep(async () => {
      const y = tf.tidy('TestOuterOp', () => op(x));
      await y.data();
      y.dispose();
    });
    x.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore - 1);
    assert.equal(profile.kernelCount, 3);
    const [inner, outer] = [profile.kernels.find((k) => k.name === 'BatchMatMul')!, profile.kernels.find((k) => k.name === 'TestOuterOp')!];
    assert.equal(inner.calls, 2);
    assert.equal(outer.calls, 1);
    // Counted whole, the op's time would include both products: its own is only the bookkeeping around them.
    assert.ok(outer.ms! < inner.ms!, `op ${outer.ms} ms, products ${inner.ms} ms`);
    assert.ok(Math.abs(outer.share! + inner.share! - 1) < 1e-9);
    assert.equal(outer.bytesAdded, 384 * 384 * 4, 'the op adds its output');
  });

  it('where tfjs gives no kernel times ({error}, a backend that cannot time, or only zeros) it keeps the counts and says so', () => {
    const calls: KernelCall[] = [
      { name: 'Conv2D', kernelTimeMs: { error: 'WebGL query timers are not supported in this environment.' }, bytesAdded: 64, depth: 0 },
      { name: 'Relu', kernelTimeMs: { error: 'WebGL query timers are not supported in this environment.' }, bytesAdded: 64, depth: 0 },
      { name: 'Relu', kernelTimeMs: { error: 'WebGL query timers are not supported in this environment.' }, bytesAdded: 64, depth: 0 },
    ];
    const failed = summarizeKernels(calls);
    assert.equal(failed.timed, false);
    assert.match(failed.untimedReason ?? '', /no kernel times here \(WebGL query timers are not supported/);
    assert.equal(failed.kernelMs, null);
    assert.deepEqual(failed.kernels, [
      { name: 'Relu', calls: 2, ms: null, share: null, bytesAdded: 128 },
      { name: 'Conv2D', calls: 1, ms: null, share: null, bytesAdded: 64 },
    ]);
    const zeros = calls.map((call) => ({ ...call, kernelTimeMs: 0 }));
    assert.equal(summarizeKernels(zeros).untimedReason, 'tfjs reported 0 ms for every kernel');
    const webgpu = summarizeKernels(zeros, 'the webgpu device has no timestamp-query feature');
    assert.equal(webgpu.timed, false);
    assert.equal(webgpu.untimedReason, 'the webgpu device has no timestamp-query feature');
    assert.deepEqual(webgpu.kernels.map((k) => [k.name, k.calls, k.ms]), [['Relu', 2, null], ['Conv2D', 1, null]]);
  });

  it('prints the top kernel names and one line for the rest; untimed, counts without times', () => {
    const timed: StepProfile = {
      wallMs: 12.5, kernelCount: 6, timed: true, untimedReason: null, kernelMs: 10, newTensors: 0,
      kernels: [
        { name: 'Conv2DBackpropFilter', calls: 2, ms: 6, share: 0.6, bytesAdded: 2 ** 20 },
        { name: 'TemperFusedConv2D', calls: 2, ms: 3, share: 0.3, bytesAdded: 2 ** 21 },
        { name: 'Relu', calls: 1, ms: 0.75, share: 0.075, bytesAdded: 0 },
        { name: 'Reshape', calls: 1, ms: 0.25, share: 0.025, bytesAdded: 0 },
      ],
    };
    const lines = formatProfile('wasm vgg6-bn train, batch 16', timed, 2);
    assert.equal(lines[0], 'wasm vgg6-bn train, batch 16: 6 kernels, 12.5 ms wall, 10.0 ms in kernels');
    assert.match(lines[1]!, /^kernel\s+calls\s+ms\s+share\s+MiB added$/);
    assert.match(lines[2]!, /^Conv2DBackpropFilter\s+2\s+6\.0\s+60\.0%\s+1\.0$/);
    assert.match(lines[3]!, /^TemperFusedConv2D\s+2\s+3\.0\s+30\.0%\s+2\.0$/);
    assert.match(lines[4]!, /^other \(2 kernel names\)\s+2\s+1\.0\s+10\.0%\s+0\.0$/);
    assert.equal(lines.length, 5);
    assert.equal(formatProfile('x', timed, 15).length, 6, 'no "other" line when every name is listed');
    const untimed: StepProfile = {
      ...timed, timed: false, untimedReason: 'the webgpu device has no timestamp-query feature', kernelMs: null, newTensors: 3,
      kernels: timed.kernels.map((k) => ({ ...k, ms: null, share: null })),
    };
    const text = formatProfile('webgpu vgg6-bn train, batch 16', untimed, 2);
    assert.equal(text[0], 'webgpu vgg6-bn train, batch 16: 6 kernels, 12.5 ms wall, kernel times unavailable: the webgpu device has no timestamp-query feature; counts only, 3 tensors left behind');
    assert.match(text[2]!, /^Conv2DBackpropFilter\s+2\s+-\s+-\s+1\.0$/);
    assert.match(text[4]!, /^other \(2 kernel names\)\s+2\s+-\s+-\s+0\.0$/);
  });

  it('a step that throws under tf.profile leaves profiling off', async () => {
    await assert.rejects(
      profileStep(async () => {
        tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)));
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(tf.engine().state.profiling, false);
  });

  it('runBench with profile: every measurement has a profile, as plain JSON, and the table follows the usual one', async () => {
    const settings = { ...DEFAULT_BENCH_SETTINGS, batch: 2, warmupSteps: 1, minSteps: 1, minSeconds: 0, models: ['cnn-small' as const], profile: true };
    const report = await runBench('wasm', settings, { quiet: true });
    const json = JSON.parse(JSON.stringify(report)) as BenchReport;
    assert.deepEqual(json, report, 'nothing is lost in JSON (no undefined, NaN or Infinity)');
    assert.equal(json.complete, true);
    assert.equal(json.settings.profile, true);
    for (const m of json.backends[0]!.measurements) {
      const profile = checkProfile(m.profile, m.what);
      assert.deepEqual(Object.keys(profile), ['wallMs', 'kernelCount', 'timed', 'untimedReason', 'kernelMs', 'newTensors', 'kernels']);
      for (const k of profile.kernels) assert.deepEqual(Object.keys(k), ['name', 'calls', 'ms', 'share', 'bytesAdded']);
    }
    const text = formatBench(report, { profileTop: 3 });
    const usual = text.indexOf('backend  model');
    const train = text.indexOf('\nwasm cnn-small train, batch 2: ');
    const pgd = text.indexOf('\nwasm cnn-small pgd, batch 2: ');
    assert.ok(usual > 0 && train > usual && pgd > train, text);
    assert.equal(text.match(/^other \(\d+ kernel names\)/gm)?.length, 2, text);
    const plain = await runBench('wasm', { ...settings, kinds: ['pgd'], profile: false }, { quiet: true });
    assert.equal(plain.backends[0]!.measurements[0]!.profile, null);
    assert.doesNotMatch(formatBench(plain), /tf\.profile/);
  });

  it('`temper bench --backend wasm --profile --json` adds a profile to each measurement and exits 0', () => {
    const result = temperCli(['bench', '--backend', 'wasm', '--what', 'train', '--profile', '--json', ...TINY_FLAGS], KERNELS_ON);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as BenchReport;
    const [m] = report.backends[0]!.measurements as [Measurement];
    const profile = checkProfile(m.profile, 'cli');
    assert.equal(profile.timed, true);
    assert.ok(callsOf(profile, /^Conv2DBackpropFilter$/) >= 2);
    assert.ok(profile.kernels.length > 15, 'the JSON lists every kernel name, not only the top 15');
  });

  it('`temper bench --profile --profile-top 3` prints a table of the 3 kernel names with the most time and the rest', () => {
    const result = temperCli(['bench', '--backend', 'wasm', '--what', 'pgd', '--profile', '--profile-top', '3', ...TINY_FLAGS], KERNELS_ON);
    assert.equal(result.status, 0, result.stderr);
    const section = result.stdout.slice(result.stdout.indexOf('\nwasm cnn-small pgd, batch 2: '));
    assert.match(section, /^wasm cnn-small pgd, batch 2: \d+ kernels, [\d.]+ ms wall, [\d.]+ ms in kernels\nkernel\s+calls\s+ms\s+share\s+MiB added\n(\S+\s+\d+\s+[\d.]+\s+[\d.]+%\s+[\d.]+\n){3}other \(\d+ kernel names\)\s+\d+/m);
  });

  it('--profile with --peer, --profile-top without --profile, and --profile-top 0 are bad usage: exit 2', () => {
    // A Python that does not exist: the usage error comes before any look for PyTorch.
    const peer = temperCli(['bench', '--peer', 'torch', '--profile', ...TINY_FLAGS], { TEMPER_PYTHON: join(tempDir(), 'no-such-python') });
    assert.equal(peer.status, 2, peer.stderr);
    assert.equal(peer.stdout, '');
    assert.match(peer.stderr, /^temper: --profile and --peer torch cannot be combined/);
    const top = temperCli(['bench', '--backend', 'wasm', '--profile-top', '5', ...TINY_FLAGS]);
    assert.equal(top.status, 2, top.stderr);
    assert.match(top.stderr, /--profile-top sizes the tables of --profile: add --profile/);
    const zero = temperCli(['bench', '--backend', 'wasm', '--profile', '--profile-top', '0', ...TINY_FLAGS]);
    assert.equal(zero.status, 2, zero.stderr);
    assert.match(zero.stderr, /--profile-top: expected a whole number >= 1, found 0/);
  });
});
