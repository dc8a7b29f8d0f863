import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { wasmBackend } from './helpers.js';
import { calibrationFromSums, calibrationSums, ECE_BINS } from '../src/eval/calibration.js';
import { rng } from '../src/util/rng.js';
import type { CalibrationMetrics } from '../src/types.js';

/** n x k logits, uniform in [-scale, scale], and labels in 0..k-1, from a fixed seed. */
function randomCase(n: number, k: number, scale: number, seed: number): { logits: number[][]; labels: number[] } {
  const random = rng('calibration-test', seed);
  const logits = Array.from({ length: n }, () => Array.from({ length: k }, () => (random() * 2 - 1) * scale));
  const labels = Array.from({ length: n }, () => Math.floor(random() * k));
  return { logits, labels };
}

/**
 * Plain-JS reference in float64: 15-bin ECE with bins (b / 15, (b + 1) / 15], confidence the largest probability of
 * softmax(z / T), accuracy of its argmax, and the mean -log softmax(z / T)_y.
 */
function reference(logits: number[][], labels: number[], temperature: number, bins = ECE_BINS): CalibrationMetrics & { confidences: number[] } {
  const count = new Array<number>(bins).fill(0);
  const confidenceSum = new Array<number>(bins).fill(0);
  const correctSum = new Array<number>(bins).fill(0);
  const confidences: number[] = [];
  let nll = 0;
  logits.forEach((row, i) => {
    const scaled = row.map((z) => z / temperature);
    const top = Math.max(...scaled);
    const logNormaliser = top + Math.log(scaled.reduce((sum, z) => sum + Math.exp(z - top), 0));
    const predicted = scaled.indexOf(top);
    const confidence = Math.exp(top - logNormaliser);
    confidences.push(confidence);
    nll += logNormaliser - scaled[labels[i]!]!;
    // The bin whose interval (b / bins, (b + 1) / bins] holds the confidence.
    let bin = 0;
    while (bin < bins - 1 && confidence > (bin + 1) / bins) bin++;
    count[bin]!++;
    confidenceSum[bin]! += confidence;
    correctSum[bin]! += predicted === labels[i] ? 1 : 0;
  });
  const n = logits.length;
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += (count[b]! / n) * Math.abs(correctSum[b]! / count[b]! - confidenceSum[b]! / count[b]!);
  return { ece, nll: nll / n, confidences };
}

/** calibrationSums of the given rows, read back to the host. */
async function sumsOf(logits: number[][], labels: number[], temperature: number): Promise<Float32Array> {
  const sums = tf.tidy(() => calibrationSums(tf.tensor2d(logits), tf.tensor1d(labels, 'int32'), temperature));
  const values = (await sums.data()) as Float32Array;
  sums.dispose();
  return values;
}

function assertClose(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs reference ${expected}`);
}

describe('calibration metrics', () => {
  before(wasmBackend);

  for (const temperature of [1, 5]) {
    it(`match a plain-JS 15-bin ECE and mean NLL at T = ${temperature}, in one batch or two`, async () => {
      // Logits spread in proportion to T, so softmax(z / T) covers many confidence bins at both temperatures.
      const { logits, labels } = randomCase(300, 10, 6 * temperature, temperature);
      const expected = reference(logits, labels, temperature);
      // Float32 could put a confidence within rounding of a bin edge into the neighbouring bin: make sure none is.
      const nearestEdge = Math.min(...expected.confidences.map((c) => Math.abs(c * ECE_BINS - Math.round(c * ECE_BINS))));
      assert.ok(nearestEdge > 1e-4, `a confidence lies on a bin edge (${nearestEdge}); change the seed`);
      // The case must exercise the metric: several bins used, not trivially 0.
      const binsUsed = new Set(expected.confidences.map((c) => Math.ceil(c * ECE_BINS))).size;
      assert.ok(binsUsed >= 5 && expected.ece > 0.05, `weak test case: ${binsUsed} bins, ECE ${expected.ece}`);

      const whole = await sumsOf(logits, labels, temperature);
      assert.equal(whole.length, 3 * ECE_BINS + 1);
      const got = calibrationFromSums(whole, logits.length);
      assertClose(got.ece, expected.ece, 1e-5, 'ECE');
      assertClose(got.nll, expected.nll, 1e-5 * Math.max(1, expected.nll), 'NLL');

      // Two uneven batches, summed, give the same metrics (the way evaluate.ts adds batches).
      const [first, second] = await Promise.all([sumsOf(logits.slice(0, 117), labels.slice(0, 117), temperature), sumsOf(logits.slice(117), labels.slice(117), temperature)]);
      const added = first.map((value, i) => value + second[i]!);
      for (let b = 0; b < ECE_BINS; b++) assert.equal(added[b], whole[b], `count of bin ${b}`);
      const split = calibrationFromSums(added, logits.length);
      assertClose(split.ece, got.ece, 1e-6, 'ECE of two batches');
      assertClose(split.nll, got.nll, 1e-6 * Math.max(1, got.nll), 'NLL of two batches');
    });
  }

  it('a perfectly calibrated toy set has ECE 0 and the analytic NLL, at T = 1 and T = 2', async () => {
    // 20 examples with confidence 0.75 (bin (0.733, 0.8]), 15 of them correct; 10 with confidence 0.9 (bin
    // (0.867, 0.933]), 9 correct. Two classes, so the logits log p, log(1 - p) give exactly these probabilities.
    const logits: number[][] = [];
    const labels: number[] = [];
    const group = (p: number, total: number, correct: number) => {
      for (let i = 0; i < total; i++) {
        logits.push([Math.log(p), Math.log(1 - p)]);
        labels.push(i < correct ? 0 : 1);
      }
    };
    group(0.75, 20, 15);
    group(0.9, 10, 9);
    const nll = -(15 * Math.log(0.75) + 5 * Math.log(0.25) + 9 * Math.log(0.9) + Math.log(0.1)) / 30;
    for (const temperature of [1, 2]) {
      const scaled = logits.map((row) => row.map((z) => z * temperature));
      const got = calibrationFromSums(await sumsOf(scaled, labels, temperature), labels.length);
      assertClose(got.ece, 0, 1e-6, `ECE at T = ${temperature}`);
      assertClose(got.nll, nll, 1e-5, `NLL at T = ${temperature}`);
    }
    // Reading the same logits at T = 1 when they were built for T = 2 is overconfident: ECE > 0.
    const sharpened = logits.map((row) => row.map((z) => z * 2));
    const overconfident = calibrationFromSums(await sumsOf(sharpened, labels, 1), labels.length);
    assert.ok(overconfident.ece > 0.05, `ECE ${overconfident.ece}`);
  });

  it('confidently wrong predictions give ECE close to 1', async () => {
    const logits = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? [30, 0, 0] : [0, 30, 0]));
    const labels = logits.map(() => 2);
    const got = calibrationFromSums(await sumsOf(logits, labels, 1), logits.length);
    assertClose(got.ece, 1, 1e-5, 'ECE');
    assertClose(got.nll, 30, 1e-3, 'NLL');
  });

  it('ECE lies in [0, 1] and NLL is >= 0 for any logits and temperature, and nothing leaks', async () => {
    const before = tf.memory().numTensors;
    for (const [scale, temperature] of [
      [0.01, 1],
      [3, 0.1],
      [50, 1],
      [50, 100],
      [200, 0.5],
    ] as const) {
      const { logits, labels } = randomCase(64, 4, scale, scale * 7 + temperature);
      const { ece, nll } = calibrationFromSums(await sumsOf(logits, labels, temperature), logits.length);
      assert.ok(ece >= 0 && ece <= 1, `scale ${scale}, T ${temperature}: ECE ${ece}`);
      assert.ok(Number.isFinite(nll) && nll >= 0, `scale ${scale}, T ${temperature}: NLL ${nll}`);
      assertClose(nll, reference(logits, labels, temperature).nll, 1e-4 * Math.max(1, nll), `NLL at scale ${scale}, T ${temperature}`);
    }
    assert.equal(tf.memory().numTensors, before);
  });
});
