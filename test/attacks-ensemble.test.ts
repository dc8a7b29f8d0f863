import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { disposeOutput } from '../src/attacks/attack.js';
import { DEFAULT_ENSEMBLE } from '../src/attacks/autoattack.js';
import { attackName } from '../src/config/grid.js';
import { modelTarget } from '../src/eval/evaluate.js';
import { attackConfig, attackFixture, meanOf, perturbation, robustAccuracy, runAttack, type AttackFixture } from './attack-fixture.js';

let fixture: AttackFixture;
let other: AttackFixture;

describe('transfer and autoattack', () => {
  before(async () => {
    fixture = await attackFixture();
    // Another model of the "sweep": same data, other seed.
    other = await attackFixture({ seed: 1 });
  });

  it('transfer from the model itself equals the white-box attack; its zero-gradient mask is null', async () => {
    const inner = { name: 'fgsm', loss: 'ce', lossTemperature: 1 };
    const config = attackConfig({ name: 'transfer', eps: 0.1, source: { architecture: 'mlp', temperature: 1 }, attack: inner });
    const output = runAttack(fixture, config, 0.1, { surrogate: fixture.target });
    assert.equal(output.zeroGradient, null);
    const { linf, low, high } = await perturbation(fixture, output);
    assert.ok(linf <= 0.1 + 1e-6 && low >= 0 && high <= 1);
    const transferred = await robustAccuracy(output);
    const whiteBox = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'fgsm', eps: 0.1 }), 0.1));
    assert.equal(transferred, whiteBox);
  });

  it('transfer from another model uses that model\'s gradients, and is no stronger than attacking this one directly', async () => {
    const config = attackConfig({ name: 'transfer', eps: 0.15, source: { architecture: 'mlp', temperature: 1 }, attack: { name: 'pgd', steps: 10, stepSize: 0.03 } });
    const transferred = await robustAccuracy(runAttack(fixture, config, 0.15, { surrogate: other.target }));
    const direct = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'pgd', eps: 0.15, steps: 10, stepSize: 0.03 }), 0.15));
    const fromSelf = await robustAccuracy(runAttack(fixture, config, 0.15, { surrogate: fixture.target }));
    assert.ok(transferred < fixture.clean, `transfer did not lower accuracy (${transferred} vs clean ${fixture.clean})`);
    assert.ok(transferred >= direct, `transfer ${transferred} beat the white-box attack ${direct}`);
    assert.notEqual(transferred, fromSelf, 'the surrogate made no difference');
  });

  it('autoattack is the worst case per example over its attacks', async () => {
    const members = [
      { name: 'fgsm', loss: 'ce', lossTemperature: 1 },
      { name: 'bim', loss: 'cw', steps: 5 },
    ];
    const eps = 0.08;
    const ensemble = runAttack(fixture, attackConfig({ name: 'autoattack', eps, attacks: members }), eps);
    const alone = members.map((member) => runAttack(fixture, attackConfig({ ...member, eps }), eps));
    const both = tf.mul(alone[0]!.robust, alone[1]!.robust) as tf.Tensor1D;
    const expected = await meanOf(both);
    const separate = await Promise.all(alone.map((output) => meanOf(tf.clone(output.robust))));
    alone.forEach(disposeOutput);
    const { linf, low, high } = await perturbation(fixture, ensemble);
    assert.ok(linf <= eps + 1e-6 && low >= 0 && high <= 1);
    // Its images are what it claims: the examples it calls broken are misclassified on its own images.
    const recheck = await meanOf(tf.tidy(() => tf.cast(tf.equal(tf.argMax(fixture.target.logits(ensemble.adversarial), -1), fixture.labels), 'float32') as tf.Tensor1D));
    const accuracy = await robustAccuracy(ensemble);
    assert.equal(accuracy, expected, 'robust only where every member failed');
    assert.ok(accuracy < Math.min(...separate), `the ensemble (${accuracy}) is not stronger than its members (${separate})`);
    assert.equal(recheck, accuracy);
  });

  it('the default ensemble is APGD-CE, APGD-T (DLR) and Square', () => {
    assert.deepEqual(DEFAULT_ENSEMBLE.map(attackName), ['apgd100-ce(T=1)', 'apgd100-dlr-random', 'square1000-cw']);
  });

  it('runs the default ensemble on a small batch, at least as strong as APGD-CE alone, keeping no tensors', async () => {
    const small = { ...fixture, images: fixture.images.slice(0, 32), labels: fixture.labels.slice(0, 32), target: modelTarget(fixture.model, 1) };
    const eps = 0.08;
    const before = tf.memory().numTensors;
    const ensemble = await robustAccuracy(runAttack(small, attackConfig({ name: 'autoattack', eps }), eps));
    const apgd = await robustAccuracy(runAttack(small, attackConfig({ name: 'apgd', eps, steps: 100 }), eps));
    assert.equal(tf.memory().numTensors, before);
    assert.ok(ensemble <= apgd, `autoattack ${ensemble} > APGD-CE ${apgd}`);
    tf.dispose([small.images, small.labels]);
  });
});
