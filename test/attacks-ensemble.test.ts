import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { disposeOutput, rankedTargets } from '../src/attacks/attack.js';
import { autoattack, ensembleOf, FAST_ENSEMBLE, STANDARD_ENSEMBLE } from '../src/attacks/autoattack.js';
import { attackCost, getAttack } from '../src/attacks/index.js';
import { attackLabels, attackName } from '../src/config/grid.js';
import { attackSchema, type AttackConfig } from '../src/config/schema.js';
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

  it('the standard ensemble is AutoAttack as published: APGD-CE, APGD-T and FAB-T over 9 classes, Square-5000', () => {
    assert.deepEqual(STANDARD_ENSEMBLE.map(attackName), ['apgd100-ce(T=1)', 'apgd100-dlr-top9', 'fab100-top9', 'square5000-shared-cw']);
    const [apgdCe, apgdT, fabT, square] = STANDARD_ENSEMBLE.map((member) => ({ name: member.name, ...getAttack(member.name).params(member as never) }));
    assert.deepEqual(apgdCe, { name: 'apgd', steps: 100, restarts: 1, rho: 0.75, target: 'none' });
    assert.deepEqual(apgdT, { name: 'apgd', steps: 100, restarts: 9, rho: 0.75, target: 'top' });
    assert.deepEqual(fabT, { name: 'fab', steps: 100, restarts: 9, alphaMax: 0.1, eta: 1.05, beta: 0.9, target: 'top' });
    assert.deepEqual(square, { name: 'square', queries: 5000, pInit: 0.8, rescaleSchedule: false, squares: 'shared', restarts: 1 });
    // APGD-T ascends the targeted DLR loss; Square the margin (the reference's "margin" loss).
    assert.equal(STANDARD_ENSEMBLE[1]!.name === 'apgd' && STANDARD_ENSEMBLE[1]!.loss, 'dlr');
    assert.equal(STANDARD_ENSEMBLE[3]!.name === 'square' && STANDARD_ENSEMBLE[3]!.loss, 'cw');
  });

  it('plain autoattack is the standard ensemble; the light one and custom lists are labelled as such', () => {
    const entries = [{ name: 'autoattack', eps: 0.1 }, { name: 'autoattack', eps: 0.1, version: 'fast' }, { name: 'autoattack', eps: 0.1, attacks: [{ name: 'fgsm' }] }];
    const configs = entries.map((entry) => attackSchema.parse(entry) as Extract<AttackConfig, { name: 'autoattack' }>);
    assert.deepEqual(attackLabels(configs), [['autoattack@0.1'], ['autoattack-fast@0.1'], ['autoattack-custom@0.1']]);
    assert.deepEqual(configs.map((config) => autoattack.params(config).version), ['standard', 'fast', 'custom']);
    assert.equal(ensembleOf(configs[0]!), STANDARD_ENSEMBLE);
    assert.equal(ensembleOf(configs[1]!), FAST_ENSEMBLE);
    assert.equal(autoattack.params(configs[1]!).attacks, 'apgd100-ce(T=1) + apgd100-dlr-random + square1000-cw');
    assert.equal(autoattack.params(configs[2]!).attacks, 'fgsm-ce(T=1)');
    // A list cannot pass for the standard or fast ensemble, and "custom" needs one.
    assert.throws(() => attackSchema.parse({ ...entries[2], version: 'standard' }), /custom ensemble/);
    assert.throws(() => attackSchema.parse({ ...entries[2], version: 'fast' }), /custom ensemble/);
    assert.throws(() => attackSchema.parse({ name: 'autoattack', eps: 0.1, version: 'custom' }), /needs an `attacks` list/);
    assert.equal(attackName(attackSchema.parse({ ...entries[2], version: 'custom' })), 'autoattack-custom');
  });

  it('targets the wrong classes by clean logit rank, as AutoAttack picks them', async () => {
    // Row 0: label 3 has the largest logit; the others rank 7, 1, 9, 0, 8, 2, 5, 6, 4.
    const logits = tf.tensor2d([
      [1.0, 5.0, 0.5, 9.0, -3.0, -1.0, -2.0, 7.0, 0.9, 2.0],
      [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ]);
    const ranked: number[][] = [];
    for (let rank = 2; rank <= 10; rank++) {
      const targets = rankedTargets(logits, rank);
      ranked.push(Array.from(await targets.data()));
      targets.dispose();
    }
    logits.dispose();
    assert.deepEqual(ranked.map((row) => row[0]), [7, 1, 9, 0, 8, 2, 5, 6, 4]);
    assert.deepEqual(ranked.map((row) => row[1]), [8, 7, 6, 5, 4, 3, 2, 1, 0]);
  });

  it('APGD-T ("top") walks down the ranking, one class per restart, and stops at classes - 1', async () => {
    const eps = 0.05;
    const accuracies: number[] = [];
    for (const restarts of [1, 2, 3]) {
      accuracies.push(await robustAccuracy(runAttack(fixture, attackConfig({ name: 'apgd', eps, steps: 10, loss: 'dlr', target: 'top', restarts }), eps)));
    }
    // The fixture has 4 classes: a 9-class request runs the same 3 classes as restarts 3.
    const nine = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'apgd', eps, steps: 10, loss: 'dlr', target: 'top', restarts: 9 }), eps));
    assert.ok(accuracies[1]! <= accuracies[0]! && accuracies[2]! <= accuracies[1]!, `more target classes left more: ${accuracies}`);
    assert.ok(accuracies[2]! < accuracies[0]!, `the later target classes broke nothing: ${accuracies}`);
    assert.equal(nine, accuracies[2]);
    assert.equal(attackCost(attackConfig({ name: 'apgd', target: 'top', restarts: 9, loss: 'dlr' }), { classes: 4 }), 1 + 3 * 101 * 2);
  });

  it('a standard-shaped ensemble on a small budget: worst case of its members, progress per member, no tensors kept', async () => {
    const small = { ...fixture, images: fixture.images.slice(0, 48), labels: fixture.labels.slice(0, 48), target: modelTarget(fixture.model, 1) };
    const members = [
      { name: 'apgd', loss: 'ce', steps: 10 },
      { name: 'apgd', loss: 'dlr', steps: 10, target: 'top', restarts: 3 },
      { name: 'fab', steps: 10, target: 'top', restarts: 3 },
      { name: 'square', queries: 50 },
    ];
    const eps = 0.05;
    const before = tf.memory().numTensors;
    const details: string[] = [];
    const config = attackConfig({ name: 'autoattack', eps, attacks: members });
    const spec = getAttack('autoattack');
    const output = spec.run({ target: small.target, images: small.images, labels: small.labels, eps, loss: {} as never, config: config as never, seed: 7, progress: (detail) => details.push(detail) });
    const ensemble = await robustAccuracy(output);
    const alone = [];
    for (const member of members) alone.push(await robustAccuracy(runAttack(small, attackConfig({ ...member, eps }), eps)));
    assert.equal(tf.memory().numTensors, before);
    for (const [i, accuracy] of alone.entries()) assert.ok(ensemble <= accuracy, `the ensemble leaves ${ensemble}, ${members[i]!.name} alone ${accuracy}`);
    assert.ok(ensemble < small.clean, 'the ensemble broke nothing');
    // One line per member that ran, with the examples still standing (never more than before), then its own steps.
    const stages = details.filter((detail) => /^[^,]+ \d\/4, \d+ of 48 standing$/.test(detail));
    assert.match(stages[0]!, /^apgd10-ce\(T=1\) 1\/4, \d+ of 48 standing$/);
    const standing = details.map((detail) => Number(/, (\d+) of 48 standing/.exec(detail)![1]));
    assert.ok(standing.every((count, i) => i === 0 || count <= standing[i - 1]!), details.join('; '));
    assert.ok(stages.length >= 2 && stages[1]!.startsWith('apgd10-dlr-top3 2/4'), details.join('; '));
    assert.ok(details.some((detail) => /^apgd10-ce\(T=1\) 1\/4, 48 of 48 standing, step 10\/10$/.test(detail)), details.join('; '));
    tf.dispose([small.images, small.labels]);
  });

  it('runs the fast ensemble on a small batch, at least as strong as APGD-CE alone, keeping no tensors', async () => {
    const small = { ...fixture, images: fixture.images.slice(0, 32), labels: fixture.labels.slice(0, 32), target: modelTarget(fixture.model, 1) };
    const eps = 0.08;
    const before = tf.memory().numTensors;
    const ensemble = await robustAccuracy(runAttack(small, attackConfig({ name: 'autoattack', eps, version: 'fast' }), eps));
    const apgd = await robustAccuracy(runAttack(small, attackConfig({ name: 'apgd', eps, steps: 100 }), eps));
    assert.equal(tf.memory().numTensors, before);
    assert.ok(ensemble <= apgd, `autoattack-fast ${ensemble} > APGD-CE ${apgd}`);
    tf.dispose([small.images, small.labels]);
  });

  it('reports its cost as the sum of its members\' (forward passes 1, gradients 2), standard far above fast', () => {
    const context = { classes: 10 };
    const standard = attackCost(attackConfig({ name: 'autoattack' }), context);
    // Clean check; APGD-CE: check + 101 gradients; APGD-T: check + 9 x 101 gradients; FAB-T: check + 9 x (100 x 3 + 1);
    // Square: 5000 queries + the initial one + the final check.
    assert.equal(standard, 1 + (1 + 101 * 2) + (1 + 9 * 101 * 2) + (1 + 9 * 301) + 5002);
    const fast = attackCost(attackConfig({ name: 'autoattack', version: 'fast' }), context);
    assert.equal(fast, 1 + (1 + 202) + (1 + 202) + 1002);
    assert.ok(standard > 5 * fast);
  });
});
