import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { disposeOutput, type AttackOutput, type AttackTarget } from '../src/attacks/attack.js';
import { drawSquares, squareShare, squareSide } from '../src/attacks/square.js';
import { attackName } from '../src/config/grid.js';
import { rng } from '../src/util/rng.js';
import { attackConfig, attackFixture, meanOf, perturbation, robustAccuracy, runAttack, type AttackFixture } from './attack-fixture.js';

let fixture: AttackFixture;

// Small budgets keep the file fast; the fixture is an MLP on 12 x 12 x 1 images with 4 classes.
const cw = (parts: Record<string, unknown> = {}) => attackConfig({ name: 'cw-l2', steps: 40, binarySteps: 4, learningRate: 0.05, ...parts });
const sq = (parts: Record<string, unknown> = {}) => attackConfig({ name: 'square', queries: 300, ...parts });

/** The adversarial images of an output as a flat array, disposing the output. */
async function imagesOf(output: AttackOutput): Promise<Float32Array> {
  const values = (await output.adversarial.data()) as Float32Array;
  disposeOutput(output);
  return values;
}

/** Share of examples whose adversarial image the model assigns to `classes`, disposing the output. */
async function predictedShare(output: AttackOutput, classes: tf.Tensor1D): Promise<number> {
  const hits = tf.tidy(() => tf.cast(tf.equal(tf.argMax(fixture.target.logits(output.adversarial), -1), classes), 'float32') as tf.Tensor1D);
  disposeOutput(output);
  return meanOf(hits);
}

describe('Carlini-Wagner L2', () => {
  before(async () => {
    fixture = await attackFixture();
  });

  it('stays within the L2 budget and [0, 1], and moves the images', async () => {
    const eps = 1;
    const output = runAttack(fixture, cw(), eps);
    const { l2, low, high } = await perturbation(fixture, output);
    disposeOutput(output);
    assert.ok(l2 <= eps + 1e-5, `largest L2 distance ${l2} > eps ${eps}`);
    assert.ok(l2 > eps / 4, `the attack barely moved (largest L2 distance ${l2})`);
    assert.ok(low >= 0 && high <= 1, `pixels outside [0, 1]: [${low}, ${high}]`);
  });

  it('a large L2 budget breaks most examples, and robust accuracy does not grow with eps', async () => {
    const accuracies: number[] = [];
    for (const eps of [0.5, 2, 3]) accuracies.push(await robustAccuracy(runAttack(fixture, cw(), eps)));
    const [small, medium, large] = accuracies as [number, number, number];
    assert.ok(large < fixture.clean / 4, `accuracy at L2 eps 3 is ${large}, clean ${fixture.clean}`);
    assert.ok(medium <= small && large <= medium, `robust accuracy grew with eps: ${accuracies.join(', ')}`);
    assert.ok(small > large, `eps 0.5 and 3 gave the same accuracy ${small}`);
  });

  it('with no budget the accuracy is the clean accuracy', async () => {
    // 1e-6 is below the tanh-space round trip of the clean image, so only already misclassified examples count.
    for (const eps of [0, 1e-6]) assert.equal(await robustAccuracy(runAttack(fixture, cw({ steps: 10, binarySteps: 2 }), eps)), fixture.clean, `eps ${eps}`);
  });

  it('is at least as strong as FGSM at the same L2 distance', async () => {
    // FGSM-Linf at eps moves each of the 144 pixels by at most eps, so its L2 distance is at most 12 * eps.
    const linf = 0.08;
    const fgsmOutput = runAttack(fixture, attackConfig({ name: 'fgsm', eps: linf, loss: 'cw' }), linf);
    const fgsmL2 = (await perturbation(fixture, fgsmOutput)).l2;
    const fgsmAccuracy = await robustAccuracy(fgsmOutput);
    assert.ok(fgsmL2 <= 12 * linf + 1e-5, `FGSM L2 distance ${fgsmL2}`);
    const cwAccuracy = await robustAccuracy(runAttack(fixture, cw(), 12 * linf));
    assert.ok(fgsmAccuracy < fixture.clean, `FGSM did not lower accuracy (${fgsmAccuracy})`);
    assert.ok(cwAccuracy <= fgsmAccuracy, `CW ${cwAccuracy} > FGSM ${fgsmAccuracy} at L2 eps ${12 * linf}`);
  });

  it('targeted at the least-likely class, reaches that class for most examples with a large budget', async () => {
    const leastLikely = tf.tidy(() => tf.cast(tf.argMin(fixture.target.logits(fixture.images), -1), 'int32') as tf.Tensor1D);
    const share = await predictedShare(runAttack(fixture, cw({ target: 'least-likely' }), 4), leastLikely);
    leastLikely.dispose();
    assert.ok(share > 0.8, `only ${share} of the images are classified as their target`);
  });

  it('is deterministic and has no input-gradient masking on this model', async () => {
    const config = cw({ steps: 10, binarySteps: 2, target: 'random' });
    const first = runAttack(fixture, config, 1, { seed: 3 });
    assert.equal(await meanOf(tf.clone(first.zeroGradient!)), 0, 'the CW margin never has a zero gradient on a plain MLP');
    const [a, b] = await Promise.all([imagesOf(first), imagesOf(runAttack(fixture, config, 1, { seed: 3 }))]);
    assert.deepEqual(a, b);
  });

  it('keeps no tensors alive', () => {
    const before = tf.memory().numTensors;
    for (const target of ['none', 'random', 'least-likely']) disposeOutput(runAttack(fixture, cw({ steps: 3, binarySteps: 2, target }), 1));
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('Square Attack', () => {
  before(async () => {
    fixture ??= await attackFixture();
  });

  it('follows the paper p schedule by iteration (as AutoAttack\'s Square-5000 runs it), or rescaled to the budget', () => {
    // Iterations 0-10 at pInit, 11-50 at pInit / 2, ..., past 8000 at pInit / 512, whatever the budget.
    assert.equal(squareShare(0.8, 0, 5000), 0.8);
    assert.equal(squareShare(0.8, 10, 5000), 0.8);
    assert.equal(squareShare(0.8, 11, 5000), 0.4);
    assert.equal(squareShare(0.8, 4000, 5000), 0.8 / 64);
    assert.equal(squareShare(0.8, 4001, 5000), 0.8 / 128);
    assert.equal(squareShare(0.8, 8001, 10000), 0.8 / 512);
    // Rescaled to 1000 queries: iteration 5 is iteration 50 of the 10000-query schedule, iteration 6 is past it.
    assert.equal(squareShare(0.8, 5, 1000, true), 0.4);
    assert.equal(squareShare(0.8, 6, 1000, true), 0.2);
    assert.equal(squareShare(0.8, 6, 1000), 0.8);
    assert.equal(squareSide(0.8, 12, 12), 11);
    assert.equal(squareSide(0.8, 28, 28), 25);
    assert.equal(squareSide(1, 12, 12), 12);
    assert.equal(squareSide(0.8 / 512, 12, 12), 1);
  });

  it('draws one square and one sign per channel per query for the whole batch when shared, as AutoAttack does', async () => {
    const random = rng('square-test', 1, 0);
    const [height, width, channels] = [8, 8, 3];
    const tops = new Set<number>();
    for (let draw = 0; draw < 200; draw++) {
      const { mask, signs } = drawSquares('shared', 5, [height, width, channels], 3, random, [0, 2, 4]);
      assert.deepEqual(mask.shape, [1, height, width, 1]);
      assert.deepEqual(signs.shape, [1, 1, 1, channels]);
      const values = mask.dataSync() as Float32Array;
      assert.equal(values.reduce((a, b) => a + b, 0), 9, 'one 3 x 3 square');
      tops.add(values.findIndex((v) => v === 1) >> 3);
      tf.dispose([mask, signs]);
    }
    // The reference's random_int(0, h - s) never draws the last top row (h - s = 5); the paper's code can.
    assert.deepEqual([...tops].sort(), [0, 1, 2, 3, 4]);
    const perExample = drawSquares('per-example', 5, [height, width, channels], 3, random, [0, 2, 4]);
    assert.deepEqual(perExample.mask.shape, [3, height, width, 1]);
    assert.deepEqual(perExample.signs.shape, [3, 1, 1, channels]);
    tf.dispose([perExample.mask, perExample.signs]);
    // A square that fills the image has one place to go.
    const full = drawSquares('shared', 2, [height, width, 1], 8, random, [0, 1]);
    assert.equal((full.mask.dataSync() as Float32Array).reduce((a, b) => a + b, 0), 64);
    tf.dispose([full.mask, full.signs]);
  });

  it('shared squares are labelled -shared and give other images; both modes break most examples', async () => {
    const shared = sq({ queries: 100, squares: 'shared' });
    const perExample = sq({ queries: 100 });
    assert.equal(attackName(perExample), 'square100-cw');
    assert.equal(attackName(shared), 'square100-shared-cw');
    const [a, b] = await Promise.all([imagesOf(runAttack(fixture, shared, 0.1)), imagesOf(runAttack(fixture, perExample, 0.1))]);
    assert.notDeepEqual(a, b);
    for (const squares of ['shared', 'per-example']) {
      const accuracy = await robustAccuracy(runAttack(fixture, sq({ squares }), 0.2));
      assert.ok(accuracy < fixture.clean / 2, `${squares} squares left ${accuracy} robust (clean ${fixture.clean})`);
    }
  });

  it('stays within the L-infinity ball and [0, 1] and reports no gradient mask (it has no gradients)', async () => {
    const eps = 0.1;
    const output = runAttack(fixture, sq(), eps);
    assert.equal(output.zeroGradient, null);
    const { linf, low, high } = await perturbation(fixture, output);
    disposeOutput(output);
    assert.ok(linf <= eps + 1e-6, `max |x' - x| = ${linf} > eps ${eps}`);
    assert.ok(linf > eps / 2, `the attack barely moved (${linf})`);
    assert.ok(low >= 0 && high <= 1, `pixels outside [0, 1]: [${low}, ${high}]`);
  });

  it('lowers accuracy well below clean with a few hundred queries, and more with restarts', async () => {
    const eps = 0.2;
    // Its cost is checked by counting queries (below), not by the clock: a shared machine can be slow at any time.
    const once = await robustAccuracy(runAttack(fixture, sq(), eps));
    assert.ok(once < fixture.clean / 2, `square left ${once} robust (clean ${fixture.clean})`);
    const twice = await robustAccuracy(runAttack(fixture, sq({ restarts: 2, queries: 100 }), eps));
    const single = await robustAccuracy(runAttack(fixture, sq({ queries: 100 }), eps));
    assert.ok(twice <= single, `two restarts ${twice} > one ${single}`);
    assert.equal(await robustAccuracy(runAttack(fixture, sq(), 0)), fixture.clean, 'eps 0');
  });

  it('needs only the logits: the same images from a target whose logits pass through the host', async () => {
    // A target whose logits are copied through plain numbers has no path back to its input, so tf.grad on it would
    // throw; the attack must run on it unchanged and query it at most once per query (plus the initial one and the final
    // check).
    let calls = 0;
    const blackBox: AttackTarget = {
      temperature: 1,
      logits: (images) => {
        calls++;
        const logits = fixture.target.logits(images);
        const copy = tf.tensor2d(logits.dataSync() as Float32Array, logits.shape);
        logits.dispose();
        return copy;
      },
    };
    const config = sq({ queries: 100 });
    const reference = await imagesOf(runAttack(fixture, config, 0.1));
    const opaque = await imagesOf(runAttack({ ...fixture, target: blackBox }, config, 0.1));
    assert.deepEqual(opaque, reference);
    assert.ok(calls > 0 && calls <= 1 + 100 + 1, `${calls} logit calls for a budget of 100 queries`);
  });

  it('queries only the examples still standing: a fooled example leaves the batch, as in the reference code', async () => {
    const sizes: number[] = [];
    const counting: AttackTarget = { temperature: 1, logits: (images) => (sizes.push(images.shape[0]), fixture.target.logits(images)) };
    const n = fixture.images.shape[0];
    const robust = await robustAccuracy(runAttack({ ...fixture, target: counting }, sq(), 0.2));
    // The first query and the final check see every example; the queries between see fewer and fewer.
    assert.equal(sizes[0], n);
    assert.equal(sizes.at(-1), n);
    const between = sizes.slice(1, -1);
    assert.ok(between.every((size, i) => i === 0 || size <= between[i - 1]!), `batch sizes grew: ${between.join(' ')}`);
    assert.ok(Math.min(...between) < n, 'no fooled example ever left the batch');
    assert.ok(Math.min(...between) >= Math.round(robust * n), `fewer examples attacked (${Math.min(...between)}) than stayed robust (${robust * n})`);
  });

  it('with the margin loss, rescaling the logits (like a low training temperature) changes nothing', async () => {
    // Multiplying by a power of two is exact in float32, so every margin comparison comes out the same.
    const scaled: AttackTarget = { temperature: 1 / 64, logits: (images) => tf.tidy(() => tf.mul(fixture.target.logits(images), 64)) };
    const config = sq({ queries: 100, loss: 'cw' });
    const reference = await imagesOf(runAttack(fixture, config, 0.1));
    const rescaled = await imagesOf(runAttack({ ...fixture, target: scaled }, config, 0.1));
    assert.deepEqual(rescaled, reference);
  });

  it('also runs on cross-entropy and is deterministic per seed', async () => {
    const config = sq({ queries: 100, loss: 'ce' });
    const [a, b, other] = await Promise.all([
      imagesOf(runAttack(fixture, config, 0.1, { seed: 5 })),
      imagesOf(runAttack(fixture, config, 0.1, { seed: 5 })),
      imagesOf(runAttack(fixture, config, 0.1, { seed: 6 })),
    ]);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, other, 'different seeds gave the same images');
  });

  it('keeps no tensors alive', () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) disposeOutput(runAttack(fixture, sq({ queries: 60, restarts: 2, loss: i === 0 ? 'ce' : 'cw', squares: i === 2 ? 'per-example' : 'shared' }), 0.1));
    assert.equal(tf.memory().numTensors, before);
  });
});
