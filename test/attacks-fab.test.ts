import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { disposeOutput, rankedTargets } from '../src/attacks/attack.js';
import { projectOntoBoundary, type FabNorm } from '../src/attacks/fab.js';
import { attackCost, getAttack } from '../src/attacks/index.js';
import { rng } from '../src/util/rng.js';
import { wasmBackend } from './helpers.js';
import { attackConfig, attackFixture, meanOf, perturbation, robustAccuracy, runAttack, type AttackFixture } from './attack-fixture.js';

let fixture: AttackFixture;

/** Runs projectOntoBoundary on plain arrays: one row per point. */
async function project(points: number[][], normals: number[][], values: number[], norm: FabNorm): Promise<number[][]> {
  const t = tf.tensor2d(points);
  const w = tf.tensor2d(normals);
  const v = tf.tensor1d(values);
  const d = projectOntoBoundary(t, w, v, norm);
  const rows = (await d.array()) as number[][];
  tf.dispose([t, w, v, d]);
  return rows;
}

/**
 * The smallest Lp norm that reaches the hyperplane from t inside [0, 1]^D, by bisection on the budget lambda on the
 * host: the most a budget can change w . z is sum_i |w_i| * (the move of coordinate i), a coordinate moving by at most
 * lambda (Linf) or, for L2, the norm of the box-clipped step -lambda * w. Infinity where the box cannot reach it.
 */
function bruteForceNorm(t: number[], w: number[], value: number, norm: FabNorm): number {
  const direction = w.map((wi) => -Math.sign(wi) * Math.sign(value));
  const room = t.map((ti, i) => (direction[i]! > 0 ? 1 - ti : direction[i]! < 0 ? ti : 0));
  const reach = (lambda: number) => {
    const moves = w.map((wi, i) => Math.min(norm === 'linf' ? lambda : lambda * Math.abs(wi), room[i]!));
    return { change: moves.reduce((sum, move, i) => sum + move * Math.abs(w[i]!), 0), moves };
  };
  const needed = Math.abs(value);
  if (reach(1e9).change < needed) return Infinity;
  let [low, high] = [0, 1e9];
  for (let i = 0; i < 200; i++) {
    const mid = (low + high) / 2;
    if (reach(mid).change >= needed) high = mid;
    else low = mid;
  }
  const { moves } = reach(high);
  return norm === 'linf' ? Math.max(...moves) : Math.sqrt(moves.reduce((sum, move) => sum + move * move, 0));
}

describe('FAB projection onto the linearised boundary within [0, 1]', () => {
  before(async () => {
    await wasmBackend();
  });

  it('Linf: moves every coordinate by the same amount while the box allows, then saturates the short ones', async () => {
    // w . d must be -0.4: both coordinates move down by 0.2.
    assert.deepEqual((await project([[0.5, 0.5]], [[1, 1]], [0.4], 'linf'))[0]!.map((x) => Number(x.toFixed(6))), [-0.2, -0.2]);
    // w . d must be +0.12 with w = (1, 0.1): the first coordinate stops at 1 (room 0.1), the second goes on to 0.2.
    const [d] = await project([[0.9, 0.5]], [[1, 0.1]], [-0.12], 'linf');
    assert.deepEqual(d!.map((x) => Number(x.toFixed(5))), [0.1, 0.2]);
    // +0.5 is out of reach (at most 0.1 + 0.05): the corner of the box that gets closest.
    const [corner] = await project([[0.9, 0.5]], [[1, 0.1]], [-0.5], 'linf');
    assert.deepEqual(corner!.map((x) => Number(x.toFixed(5))), [0.1, 0.5]);
  });

  it('L2: the plain projection -value w / |w|^2 where the box does not bind', async () => {
    const [d] = await project([[0.5, 0.5]], [[3, 4]], [1], 'l2');
    assert.deepEqual(d!.map((x) => Number(x.toFixed(5))), [-0.12, -0.16]);
  });

  for (const norm of ['linf', 'l2'] as const) {
    it(`${norm}: on random problems, lands on the hyperplane inside the box with the smallest norm`, async () => {
      const random = rng('fab-projection', norm);
      const size = 20;
      const points = Array.from({ length: 40 }, () => Array.from({ length: size }, () => random()));
      // Some coordinates have no gradient at all; values range from easy to out of reach.
      const normals = points.map(() => Array.from({ length: size }, () => (random() < 0.2 ? 0 : random() * 2 - 1)));
      const values = points.map((_, i) => (random() * 2 - 1) * (i < 30 ? 1 : 8));
      const steps = await project(points, normals, values, norm);
      let reachable = 0;
      steps.forEach((d, i) => {
        const t = points[i]!;
        const w = normals[i]!;
        const moved = t.map((ti, j) => ti + d[j]!);
        assert.ok(moved.every((x) => x >= -1e-6 && x <= 1 + 1e-6), `row ${i} left the box`);
        const optimum = bruteForceNorm(t, w, values[i]!, norm);
        const residual = values[i]! + w.reduce((sum, wj, j) => sum + wj * d[j]!, 0);
        const length = norm === 'linf' ? Math.max(...d.map(Math.abs)) : Math.sqrt(d.reduce((sum, x) => sum + x * x, 0));
        if (Number.isFinite(optimum)) {
          reachable++;
          assert.ok(Math.abs(residual) < 1e-4, `row ${i}: off the hyperplane by ${residual}`);
          assert.ok(Math.abs(length - optimum) < 1e-4, `row ${i}: norm ${length}, smallest possible ${optimum}`);
        } else {
          // Out of reach: every coordinate with a gradient goes all the way to its limit, which shrinks |value|.
          assert.ok(Math.abs(residual) < Math.abs(values[i]!), `row ${i}: the corner does not get closer`);
        }
      });
      assert.ok(reachable >= 20 && reachable < 40, `${reachable} of 40 problems reachable: the cases are not mixed`);
    });
  }
});

describe('FAB on a small trained model', () => {
  before(async () => {
    fixture = await attackFixture();
  });

  const cases: Array<[string, Record<string, unknown>, number]> = [
    ['fab', {}, 0.08],
    ['fab', { target: 'top', restarts: 3 }, 0.08],
    ['fab', { restarts: 2 }, 0.03],
    ['fab-l2', {}, 0.8],
    ['fab-l2', { target: 'top', restarts: 3 }, 0.8],
  ];
  for (const [name, parts, eps] of cases) {
    it(`${name} ${JSON.stringify(parts)} stays within eps ${eps} and [0, 1], and breaks examples`, async () => {
      const output = runAttack(fixture, attackConfig({ name, eps, steps: 10, ...parts }), eps);
      const { linf, l2, low, high } = await perturbation(fixture, output);
      const mismatch = await meanOf(tf.tidy(() => tf.abs(tf.sub(tf.cast(tf.equal(tf.argMax(fixture.target.logits(output.adversarial), -1), fixture.labels), 'float32'), output.robust)) as tf.Tensor1D));
      const accuracy = await robustAccuracy(output);
      const size = name === 'fab' ? linf : l2;
      assert.ok(size <= eps + 1e-6, `largest distance ${size} > eps ${eps}`);
      assert.ok(size > 0, 'no image moved');
      assert.ok(low >= 0 && high <= 1, `pixels outside [0, 1]: [${low}, ${high}]`);
      assert.equal(mismatch, 0, 'an example is broken exactly when its output image fools the model');
      assert.ok(accuracy < fixture.clean, `accuracy ${accuracy}, clean ${fixture.clean}`);
    });
  }

  it('eps = 0 gives the clean accuracy', async () => {
    assert.equal(await robustAccuracy(runAttack(fixture, attackConfig({ name: 'fab', eps: 0, steps: 10 }), 0)), fixture.clean);
  });

  it('is at least about as strong as PGD at the same eps', async () => {
    for (const eps of [0.05, 0.08]) {
      const pgd = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'pgd', eps, steps: 20, stepSize: eps / 4, loss: 'cw' }), eps));
      const fab = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'fab', eps, steps: 10 }), eps));
      assert.ok(pgd < fixture.clean, `eps ${eps}: PGD broke nothing`);
      assert.ok(fab <= pgd + 0.03, `eps ${eps}: FAB leaves ${fab}, PGD ${pgd}`);
    }
  });

  it('targeted at the runner-up class (FAB-T, one restart), reaches that class where it succeeds', async () => {
    const eps = 0.1;
    const output = runAttack(fixture, attackConfig({ name: 'fab', eps, steps: 20, target: 'top', restarts: 1 }), eps);
    const [broken, onTarget] = await Promise.all([
      meanOf(tf.tidy(() => tf.sub(1, output.robust) as tf.Tensor1D)),
      meanOf(
        tf.tidy(() => {
          const runnerUp = rankedTargets(fixture.target.logits(fixture.images), 2);
          const predicted = tf.argMax(fixture.target.logits(output.adversarial), -1);
          return tf.mul(tf.sub(1, output.robust), tf.cast(tf.equal(predicted, runnerUp), 'float32')) as tf.Tensor1D;
        }),
      ),
    ]);
    disposeOutput(output);
    assert.ok(broken > 0.2, `FAB-T broke only ${broken}`);
    assert.ok(onTarget >= 0.9 * broken, `${onTarget} of ${broken} broken examples are classified as their target`);
  });

  it('is deterministic for a seed; random targets and restarts depend on it', async () => {
    const images = async (parts: Record<string, unknown>, seed: number) => {
      const output = runAttack(fixture, attackConfig({ name: 'fab', eps: 0.05, steps: 3, ...parts }), 0.05, { seed });
      const values = Array.from(await output.adversarial.data());
      disposeOutput(output);
      return values;
    };
    assert.deepEqual(await images({ target: 'top', restarts: 2 }, 7), await images({ target: 'top', restarts: 2 }, 8), '"top" uses no randomness');
    const first = await images({ target: 'random', restarts: 2 }, 7);
    assert.deepEqual(await images({ target: 'random', restarts: 2 }, 7), first, 'the same seed gave different images');
    assert.notDeepEqual(await images({ target: 'random', restarts: 2 }, 8), first, 'another seed gave the same random targets');
  });

  it('keeps no tensors alive', () => {
    const small = { ...fixture, images: fixture.images.slice(0, 32), labels: fixture.labels.slice(0, 32) };
    const before = tf.memory().numTensors;
    for (const [name, parts] of [
      ['fab', { restarts: 2 }],
      ['fab', { target: 'top', restarts: 9 }],
      ['fab', { target: 'random', restarts: 2 }],
      ['fab-l2', { target: 'least-likely' }],
    ] as const) {
      disposeOutput(runAttack(small, attackConfig({ name, eps: 0.05, steps: 3, ...parts }), 0.05));
    }
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([small.images, small.labels]);
  });

  it('costs, in forward-pass equivalents: a gradient per class per iteration untargeted, one targeted', () => {
    const context = { classes: 10 };
    // Clean check + (100 x (10 gradients + 1 forward) + final check).
    assert.equal(attackCost(attackConfig({ name: 'fab' }), context), 1 + (100 * (10 * 2 + 1) + 1));
    // FAB-T over 9 classes: 9 runs of 100 x (1 gradient + 1 forward) + final check.
    assert.equal(attackCost(attackConfig({ name: 'fab', target: 'top', restarts: 9 }), context), 1 + 9 * (100 * 3 + 1));
    // Only classes - 1 targets exist.
    assert.equal(attackCost(attackConfig({ name: 'fab', target: 'top', restarts: 9 }), { classes: 4 }), 1 + 3 * (100 * 3 + 1));
    assert.equal(getAttack('fab-l2').norm, 'l2');
  });
});
