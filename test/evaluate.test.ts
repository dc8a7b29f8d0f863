// evaluateModel with every kind of row at once: no tensors left behind, calibration present, rows in config order.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { smallConfig } from './helpers.js';
import { expandGrid } from '../src/config/grid.js';
import { evaluateModel, modelTarget } from '../src/eval/evaluate.js';
import { attackFixture, type AttackFixture } from './attack-fixture.js';

let fixture: AttackFixture;
let surrogate: AttackFixture;

const [job] = expandGrid(
  smallConfig({
    attacks: [
      { name: 'fgsm', eps: [0, 0.1] },
      { name: 'pgd', eps: 0.1, steps: 3, stepSize: 0.04, target: 'random' },
      { name: 'pgd-l2', eps: 1, steps: 3 },
      { name: 'bim', eps: 0.1, steps: 3, loss: 'dlr' },
      { name: 'mifgsm', eps: 0.1, steps: 3 },
      { name: 'apgd', eps: 0.1, steps: 5, loss: 'dlr' },
      { name: 'cw-l2', eps: 1, steps: 5, binarySteps: 2 },
      { name: 'square', eps: 0.1, queries: 20 },
      { name: 'transfer', eps: 0.1, source: { architecture: 'mlp', temperature: 1 }, attack: { name: 'fgsm' } },
      { name: 'autoattack', eps: 0.1, attacks: [{ name: 'fgsm' }, { name: 'square', queries: 10 }] },
    ],
    corruptions: { types: ['gaussian_noise', 'jpeg_compression'], severities: [3] },
    eval: { samples: 96, batchSize: 40 },
  }),
);

describe('evaluateModel with every attack, corruptions and calibration', () => {
  before(async () => {
    fixture = await attackFixture();
    surrogate = await attackFixture({ seed: 1 });
  });

  it('keeps no tensors, disposes the surrogate, and writes a row per attack, eps and corruption', async () => {
    let disposed = 0;
    const context = { surrogate: async () => ({ ...modelTarget(surrogate.model, 1), dispose: () => void disposed++ }) };
    const before = tf.memory().numTensors;
    const result = await evaluateModel(fixture.model, fixture.dataset, job!, {}, context);
    assert.equal(tf.memory().numTensors, before, 'evaluation leaked tensors');
    assert.equal(disposed, 1);
    assert.equal(result.samples, 96);
    assert.deepEqual(
      result.attacks.map((row) => row.label),
      [
        'fgsm-ce(T=1)@0',
        'fgsm-ce(T=1)@0.1',
        'pgd3-ce(T=1)-random@0.1',
        'pgd3-l2-ce(T=1)@1',
        'bim3-dlr@0.1',
        'mifgsm3-ce(T=1)@0.1',
        'apgd5-dlr@0.1',
        'cwl2-5x2@1',
        'square20-cw@0.1',
        'transfer(mlp,T=1):fgsm-ce(T=1)@0.1',
        'autoattack-custom@0.1',
        'gaussian_noise@s3',
        'jpeg_compression@s3',
      ],
    );
    const eps0 = result.attacks[0]!;
    assert.equal(eps0.robustAccuracy, result.cleanAccuracy, 'eps 0 is the clean accuracy');
    for (const row of result.attacks) {
      assert.ok(row.robustAccuracy >= 0 && row.robustAccuracy <= 1, row.label);
      assert.equal(row.n, 96);
    }
    const l2 = result.attacks.find((row) => row.attack === 'pgd-l2')!;
    assert.equal(l2.norm, 'l2');
    assert.ok(result.calibration.trainTemperature.ece >= 0 && result.calibration.trainTemperature.nll > 0);
  });

  it("reports each row's batches, and the restart and step PGD is at, to onAttackProgress", async () => {
    const [pgdJob] = expandGrid(smallConfig({ attacks: [{ name: 'fgsm', eps: 0.1 }, { name: 'pgd', eps: 0.1, steps: 2, restarts: 2 }], eval: { samples: 96, batchSize: 40 } }));
    const events: string[] = [];
    const before = tf.memory().numTensors;
    await evaluateModel(fixture.model, fixture.dataset, pgdJob!, {
      onAttack: ({ label }) => events.push(label),
      onAttackProgress: ({ batch, batches, detail }) => events.push(`${batch}/${batches}${detail === undefined ? '' : ` ${detail}`}`),
    });
    assert.equal(tf.memory().numTensors, before);
    const steps = (batch: number) => ['restart 1/2, step 1/2', 'restart 1/2, step 2/2', 'restart 2/2, step 1/2', 'restart 2/2, step 2/2'].map((detail) => `${batch}/3 ${detail}`);
    assert.deepEqual(events, ['fgsm-ce(T=1)@0.1', '0/3', '1/3', '2/3', '3/3', 'pgd2-ce(T=1)@0.1', '0/3', ...steps(0), '1/3', ...steps(1), '2/3', ...steps(2), '3/3']);
  });

  it("an attack's own samples: only the first N images, the same numbers as a run on those N, and a label that says so", async () => {
    const pgd = { name: 'pgd', eps: 0.1, steps: 3, loss: 'cw' };
    const [subsetJob] = expandGrid(smallConfig({ attacks: [{ name: 'fgsm', eps: 0.1 }, { ...pgd, samples: 80 }], eval: { samples: 96, batchSize: 40 } }));
    const [smallJob] = expandGrid(smallConfig({ attacks: [{ name: 'fgsm', eps: 0.1 }, pgd], eval: { samples: 80, batchSize: 40 } }));
    const before = tf.memory().numTensors;
    const subset = await evaluateModel(fixture.model, fixture.dataset, subsetJob!);
    const small = await evaluateModel(fixture.model, fixture.dataset, smallJob!);
    assert.equal(tf.memory().numTensors, before);
    const [fgsm, row] = subset.attacks;
    assert.equal(fgsm!.n, 96);
    assert.equal(row!.n, 80);
    assert.equal(row!.label, 'pgd3-cw[n=80]@0.1');
    // Same batches (40 + 40) and seeds as a run whose eval.samples is 80: the same robust accuracy, over 80.
    assert.equal(row!.robustAccuracy, small.attacks[1]!.robustAccuracy);
    assert.equal(subset.samples, 96, 'clean accuracy is still over every image');
  });

  it('onlyRows: just the rows named, each with the number it has in the full evaluation (same seeds), no corruptions', async () => {
    const context = { surrogate: async () => ({ ...modelTarget(surrogate.model, 1), dispose: () => {} }) };
    const full = await evaluateModel(fixture.model, fixture.dataset, job!, {}, context);
    const picked = ['pgd3-ce(T=1)-random@0.1', 'autoattack-custom@0.1'];
    const before = tf.memory().numTensors;
    const only = await evaluateModel(fixture.model, fixture.dataset, job!, {}, { ...context, onlyRows: new Set(picked) });
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(only.attacks.map((row) => row.label), picked);
    for (const row of only.attacks) assert.equal(row.robustAccuracy, full.attacks.find((r) => r.label === row.label)!.robustAccuracy, row.label);
  });

  it('is deterministic: the same model, job and seed give the same rows', async () => {
    const context = { surrogate: async () => ({ ...modelTarget(surrogate.model, 1), dispose: () => {} }) };
    const strip = (rows: { label: string; robustAccuracy: number; zeroGradFraction: number | null }[]) => rows.map((r) => [r.label, r.robustAccuracy, r.zeroGradFraction]);
    const first = await evaluateModel(fixture.model, fixture.dataset, job!, {}, context);
    const second = await evaluateModel(fixture.model, fixture.dataset, job!, {}, context);
    assert.deepEqual(strip(second.attacks), strip(first.attacks));
    assert.deepEqual(second.calibration, first.calibration);
  });
});
