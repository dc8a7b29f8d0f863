import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { apgd, apgdCheckpoints, checkpointHalves } from '../src/attacks/apgd.js';
import { correctMask, disposeOutput, type AttackOutput, type AttackTarget } from '../src/attacks/attack.js';
import { attackLoss } from '../src/attacks/losses.js';
import { attackConfig, attackFixture, meanOf, perturbation, robustAccuracy, runAttack, type AttackFixture } from './attack-fixture.js';

let fixture: AttackFixture;

describe('APGD checkpoints', () => {
  it('follow p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), w_j = ceil(p_j * N)', () => {
    // N = 100: p = 0, .22, .41, .57, .70, .80, .87, .93, .99 (then 1.05, past the end).
    assert.deepEqual(apgdCheckpoints(100), [0, 22, 41, 57, 70, 80, 87, 93, 99]);
    // N = 5: ceil of 1.1, 2.05, 2.85, 3.5, 4.0, 4.35 = 2, 3, 3, 4, 4, 5: repeats dropped, 5 is the end.
    assert.deepEqual(apgdCheckpoints(5), [0, 2, 3, 4]);
    assert.deepEqual(apgdCheckpoints(1), [0]);
  });

  it('halve eta on condition 1 (at most rho of the steps raised f) or condition 2 (no halving, no progress)', async () => {
    // Interval 10, rho 0.75, so condition 1 holds up to 7.5 increases. Columns: 7 increases (condition 1); 8 and f_max
    // grew (neither); 8, f_max unchanged and not halved last time (condition 2); the same but halved last time (neither);
    // 8, f_max grew, halved last time (neither).
    const state = {
      increases: tf.tensor1d([7, 8, 8, 8, 8]),
      reducedAtCheck: tf.tensor1d([0, 0, 0, 1, 1]),
      bestLoss: tf.tensor1d([1, 2, 1, 1, 2]),
      bestLossAtCheck: tf.tensor1d([1, 1, 1, 1, 1]),
    };
    const halve = checkpointHalves(state, 10, 0.75);
    assert.deepEqual(Array.from(await halve.data()), [1, 0, 1, 0, 0]);
    // Interval 16: exactly rho * 16 = 12 increases still halves (the reference code's <=), 13 does not.
    const boundary = { ...state, increases: tf.tensor1d([12, 13, 13, 13, 13]), reducedAtCheck: tf.tensor1d([1, 1, 1, 1, 1]) };
    const atBoundary = checkpointHalves(boundary, 16, 0.75);
    assert.deepEqual(Array.from(await atBoundary.data()), [1, 0, 0, 0, 0]);
    tf.dispose([halve, atBoundary, boundary.increases, boundary.reducedAtCheck, ...Object.values(state)]);
  });
});

/** A model of one pixel x given as its logits, one example per row: x = 0.5 for all, label 0. */
function onePixel(logits: (x: tf.Tensor2D) => tf.Tensor[]): { target: AttackTarget; images: tf.Tensor4D; labels: tf.Tensor1D } {
  const target: AttackTarget = { temperature: 1, logits: (images) => tf.tidy(() => tf.concat(logits(tf.reshape(images, [-1, 1])), 1) as tf.Tensor2D) };
  return { target, images: tf.fill([16, 1, 1, 1], 0.5) as tf.Tensor4D, labels: tf.zeros([16], 'int32') as tf.Tensor1D };
}

/** APGD-CE with `steps` on a one-pixel model, eps 0.2; the images are [0.3, 0.7]. */
function runOnePixel(model: ReturnType<typeof onePixel>, steps: number): AttackOutput {
  const config = attackConfig({ name: 'apgd', eps: 0.2, steps });
  return apgd.run({ ...model, eps: 0.2, loss: attackLoss('ce', 1), config: config as never, seed: 7 });
}

describe('APGD on one-pixel models', () => {
  it('halves its step size until it settles on an interior maximum', async () => {
    // CE peaks at x = 0.55, inside the ball; the label always wins. With eta fixed at 2 * eps the signed steps would
    // bounce around the peak; halving at the checkpoints (and restarting from x_max) brings x_max close to it.
    const model = onePixel((x) => [tf.fill(x.shape, 2), tf.sub(1, tf.mul(tf.square(tf.sub(x, 0.55)), 25)), tf.zerosLike(x), tf.zerosLike(x)]);
    const output = runOnePixel(model, 100);
    const distance = await meanOf(tf.tidy(() => tf.max(tf.abs(tf.sub(tf.reshape(output.adversarial, [-1]), 0.55))).reshape([1]) as tf.Tensor1D));
    const robust = await robustAccuracy(output);
    tf.dispose([model.images, model.labels]);
    assert.equal(robust, 1);
    assert.ok(distance < 0.005, `the best points are up to ${distance} away from the maximum at 0.55`);
  });

  it('counts an example as broken when an iterate fooled the model, even if its best point does not', async () => {
    // Class 1 wins near x = 0.3 (one of the two random starts of a one-pixel image), but CE keeps growing towards
    // x = 0.7, where eight classes share the mass and the label wins again: the best-loss point is classified right.
    const model = onePixel((x) => {
      const rising = tf.mul(tf.sub(x, 0.3), 0.95 / 0.4);
      return [tf.onesLike(x), tf.sub(2, tf.mul(x, 3)), ...Array.from({ length: 8 }, () => rising)];
    });
    const output = runOnePixel(model, 10);
    const [fooledAtBest, mismatch] = await Promise.all([
      // No example is fooled at x = 0.7, the maximum of the loss.
      meanOf(tf.tidy(() => tf.sub(1, correctMask(model.target, tf.fill([16, 1, 1, 1], 0.7) as tf.Tensor4D, model.labels)) as tf.Tensor1D)),
      meanOf(tf.tidy(() => tf.abs(tf.sub(correctMask(model.target, output.adversarial, model.labels), output.robust)) as tf.Tensor1D)),
    ]);
    const robust = await robustAccuracy(output);
    tf.dispose([model.images, model.labels]);
    assert.equal(fooledAtBest, 0);
    assert.ok(robust > 0 && robust < 1, `expected some but not all random starts to fool the model, robust accuracy ${robust}`);
    assert.equal(mismatch, 0, 'the output image of a broken example must fool the model');
  });
});

describe('APGD on a small trained model', () => {
  before(async () => {
    fixture = await attackFixture();
  });

  for (const parts of [{}, { loss: 'dlr' }, { loss: 'dlr', target: 'random' }, { loss: 'dlr', target: 'top', restarts: 3 }, { restarts: 2 }]) {
    it(`${JSON.stringify(parts)} never leaves the eps-ball or [0, 1]`, async () => {
      const eps = 0.05;
      const output = runAttack(fixture, attackConfig({ name: 'apgd', eps, steps: 10, ...parts }), eps);
      const { linf, low, high } = await perturbation(fixture, output);
      disposeOutput(output);
      assert.ok(linf <= eps + 1e-6, `max |x' - x| = ${linf} > eps = ${eps}`);
      assert.ok(linf > eps / 2, `the attack barely moved (max |x' - x| = ${linf})`);
      assert.ok(low >= 0 && high <= 1, `pixels outside [0, 1]: [${low}, ${high}]`);
    });
  }

  it('reports an example as broken exactly when its output image fools the model', async () => {
    // Broken examples get the iterate that fooled the model; robust ones their best point, which was classified right.
    for (const eps of [0.05, 0.08]) {
      const output = runAttack(fixture, attackConfig({ name: 'apgd', eps, steps: 20 }), eps);
      const mismatch = await meanOf(tf.tidy(() => tf.abs(tf.sub(correctMask(fixture.target, output.adversarial, fixture.labels), output.robust)) as tf.Tensor1D));
      const robust = await robustAccuracy(output);
      assert.equal(mismatch, 0, `eps ${eps}: robust differs from the output's classification`);
      assert.ok(robust < fixture.clean, `eps ${eps}: the attack broke nothing`);
    }
  });

  it('eps = 0 gives the clean accuracy', async () => {
    for (const parts of [{}, { loss: 'dlr', target: 'random' }]) {
      const output = runAttack(fixture, attackConfig({ name: 'apgd', eps: 0, steps: 5, ...parts }), 0);
      const { linf } = await perturbation(fixture, output);
      assert.equal(linf, 0, `${JSON.stringify(parts)} moved at eps 0`);
      assert.equal(await robustAccuracy(output), fixture.clean, `${JSON.stringify(parts)} at eps 0`);
    }
  });

  it('APGD-CE is no weaker than PGD with the same eps and number of steps', async () => {
    for (const eps of [0.03, 0.08]) {
      const steps = 20;
      const pgdAccuracy = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'pgd', eps, steps, stepSize: eps / 4 }), eps));
      const apgdAccuracy = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'apgd', eps, steps }), eps));
      assert.ok(apgdAccuracy <= pgdAccuracy, `eps ${eps}: APGD-CE ${apgdAccuracy} > PGD ${pgdAccuracy}`);
      assert.ok(apgdAccuracy < fixture.clean, `eps ${eps}: APGD-CE did not lower accuracy`);
    }
  });

  it('APGD-DLR is no weaker than FGSM (with either loss)', async () => {
    const eps = 0.08;
    const apgdAccuracy = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'apgd', eps, steps: 20, loss: 'dlr' }), eps));
    for (const loss of ['ce', 'dlr']) {
      const fgsmAccuracy = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'fgsm', eps, loss }), eps));
      assert.ok(apgdAccuracy <= fgsmAccuracy, `APGD-DLR ${apgdAccuracy} > FGSM-${loss} ${fgsmAccuracy}`);
    }
  });

  it('APGD-DLR sees through a saturated CE (loss temperature 0.001), APGD-CE does not', async () => {
    // At T = 0.001 the softmax is one-hot in float32, CE's input gradient is exactly zero and APGD-CE cannot move:
    // gradient masking. DLR does not change when the logits are rescaled, so APGD-DLR is unaffected.
    const eps = 0.08;
    const options = { lossTemperature: 0.001 };
    const ce = runAttack(fixture, attackConfig({ name: 'apgd', eps, steps: 20 }), eps, options);
    const dlr = runAttack(fixture, attackConfig({ name: 'apgd', eps, steps: 20, loss: 'dlr' }), eps, options);
    const [ceZero, dlrZero] = [await meanOf(tf.clone(ce.zeroGradient!)), await meanOf(tf.clone(dlr.zeroGradient!))];
    const [ceAccuracy, dlrAccuracy] = [await robustAccuracy(ce), await robustAccuracy(dlr)];
    assert.ok(ceZero > 0.5, `expected most CE gradients to vanish, got ${ceZero}`);
    assert.equal(dlrZero, 0, 'DLR gradients never vanish');
    assert.ok(ceAccuracy > 0.9 * fixture.clean, `saturated APGD-CE still broke examples (${ceAccuracy})`);
    assert.ok(dlrAccuracy < ceAccuracy - 0.5, `APGD-DLR ${dlrAccuracy} is not clearly below saturated APGD-CE ${ceAccuracy}`);
  });

  it('targeted APGD-DLR (APGD-T) lowers accuracy', async () => {
    const eps = 0.08;
    const accuracy = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'apgd', eps, steps: 20, loss: 'dlr', target: 'random' }), eps));
    assert.ok(accuracy < fixture.clean - 0.3, `APGD-T robust accuracy ${accuracy} vs clean ${fixture.clean}`);
  });

  it('is deterministic for a seed and depends on it', async () => {
    const config = attackConfig({ name: 'apgd', eps: 0.05, steps: 10, loss: 'dlr', target: 'random', restarts: 2 });
    const images = async (seed: number) => {
      const output = runAttack(fixture, config, 0.05, { seed });
      const values = await output.adversarial.data();
      disposeOutput(output);
      return Array.from(values);
    };
    const [first, again, other] = [await images(7), await images(7), await images(8)];
    assert.deepEqual(again, first, 'the same seed gave different images');
    assert.notDeepEqual(other, first, 'another seed gave the same images');
  });

  it('reports its step, and with target "top" the target class and the examples still standing', () => {
    const seen: string[] = [];
    const config = attackConfig({ name: 'apgd', loss: 'dlr', steps: 20, target: 'top', restarts: 3 });
    const output = apgd.run({ target: fixture.target, images: fixture.images, labels: fixture.labels, eps: 0.05, loss: attackLoss('dlr', 1), config: config as never, seed: 1, progress: (detail) => seen.push(detail) });
    disposeOutput(output);
    assert.match(seen[0]!, /^target 1\/3, \d+ standing, step 1\/20$/);
    assert.ok(seen.some((detail) => /^target 1\/3, \d+ standing, step 20\/20$/.test(detail)), seen.join('; '));
    const standing = seen.map((detail) => Number(/, (\d+) standing/.exec(detail)![1]));
    assert.ok(standing.every((count, i) => i === 0 || count <= standing[i - 1]!), `standing grew: ${standing.join(' ')}`);
  });

  it('keeps no tensors alive', () => {
    const before = tf.memory().numTensors;
    for (const parts of [{ restarts: 2 }, { loss: 'dlr', target: 'least-likely' }, { loss: 'dlr', target: 'random', restarts: 2 }, { loss: 'dlr', target: 'top', restarts: 9 }]) {
      // 12 steps pass six checkpoints (3, 5, 7, 9, 10, 11).
      disposeOutput(runAttack(fixture, attackConfig({ name: 'apgd', eps: 0.05, steps: 12, ...parts }), 0.05));
    }
    assert.equal(tf.memory().numTensors, before);
  });
});
