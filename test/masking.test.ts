import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { auditMasking, markRows, reachesEps, sameBudget } from '../src/eval/masking.js';
import { formatWarning, gradientMaskingWarnings } from '../src/report/index.js';
import type { AttackResult, RunRecord } from '../src/types.js';
import { record } from './fixtures.js';

// A row as evaluate.ts writes it; `label` follows the real format so curves group by the part before "@".
function row(label: string, accuracy: number, parts: Partial<AttackResult> = {}): AttackResult {
  const eps = Number(label.slice(label.lastIndexOf('@') + 1));
  const attack = label.split(/[-0-9]/)[0]!;
  return {
    label,
    attack,
    eps,
    loss: label.includes('-cw') ? 'cw' : label.includes('-dlr') ? 'dlr' : 'ce',
    lossTemperature: 1,
    robustAccuracy: accuracy,
    n: 1000,
    zeroGradFraction: 0,
    params: {},
    wallSeconds: 1,
    kind: 'attack',
    norm: 'linf',
    access: 'white-box',
    target: 'none',
    ...parts,
  };
}

const MNIST = { classes: 10, imageSize: 28 * 28 };
const checks = (results: AttackResult[]) => auditMasking(results, MNIST).flags.map((flag) => [flag.check, flag.rows]);

describe('gradient-masking audit', () => {
  it('raises nothing for an honest model: PGD below FGSM, CE close to CW, accuracy falling with eps', () => {
    const audit = auditMasking(
      [
        row('fgsm-ce(T=1)@0.1', 0.6),
        row('fgsm-ce(T=1)@0.3', 0.2),
        row('pgd40-ce(T=1)@0.3', 0.01),
        row('pgd40-cw@0.3', 0.0),
        row('square1000-cw@0.3', 0.05, { access: 'black-box', zeroGradFraction: null }),
      ],
      MNIST,
    );
    assert.deepEqual(audit.flags, []);
    assert.equal(audit.suspected, false);
    assert.equal(audit.maxZeroGradFraction, 0);
  });

  it('flags the paper-style T = 100 model: zero gradients and CE at T = 1 far above CW', () => {
    const results = [row('pgd40-ce(T=1)@0.3', 0.76, { zeroGradFraction: 0.62 }), row('pgd40-cw@0.3', 0.0)];
    const audit = auditMasking(results, MNIST);
    assert.deepEqual(
      audit.flags.map((flag) => [flag.check, flag.rows]),
      [
        ['zero-gradient', ['pgd40-ce(T=1)@0.3']],
        ['ce-above-margin', ['pgd40-ce(T=1)@0.3', 'pgd40-cw@0.3']],
      ],
    );
    assert.equal(audit.suspected, true);
    assert.equal(audit.maxZeroGradFraction, 0.62);
    assert.match(audit.flags[1]!.message, /76\.0%.*0\.0%/);
    assert.deepEqual(markRows(results, audit).map((r) => r.masking ?? []), [['zero-gradient', 'ce-above-margin'], []]);
  });

  it('compares CE with CW/DLR of the same attack only', () => {
    assert.deepEqual(checks([row('fgsm-ce(T=1)@0.3', 0.4), row('pgd40-cw@0.3', 0.0)]), []);
    assert.deepEqual(checks([row('apgd100-ce(T=1)@0.3', 0.4, { attack: 'apgd' }), row('apgd100-dlr@0.3', 0.0, { attack: 'apgd' })]), [
      ['ce-above-margin', ['apgd100-ce(T=1)@0.3', 'apgd100-dlr@0.3']],
    ]);
  });

  it('flags an iterative attack no stronger than FGSM with the same loss and eps, but not one that is stronger', () => {
    assert.deepEqual(checks([row('fgsm-ce(T=1)@0.3', 0.5), row('pgd40-ce(T=1)@0.3', 0.5)]), [['iterative-not-stronger', ['pgd40-ce(T=1)@0.3', 'fgsm-ce(T=1)@0.3']]]);
    assert.deepEqual(checks([row('fgsm-ce(T=1)@0.3', 0.5), row('pgd40-ce(T=1)@0.3', 0.49)]), []);
    // Too few examples left by FGSM (3 of 50) for equal counts to mean anything.
    assert.deepEqual(checks([row('fgsm-ce(T=1)@0.3', 0.06, { n: 50 }), row('pgd40-ce(T=1)@0.3', 0.06, { n: 50 })]), []);
    // Nothing to take away: FGSM already at 0.
    assert.deepEqual(checks([row('fgsm-ce(T=1)@0.3', 0.0), row('pgd40-ce(T=1)@0.3', 0.0)]), []);
    // Different eps or loss: not comparable.
    assert.deepEqual(checks([row('fgsm-ce(T=1)@0.1', 0.5), row('pgd40-ce(T=1)@0.3', 0.6)]), []);
  });

  it('flags accuracy that does not fall towards chance at a huge eps, and a curve that rises with eps', () => {
    assert.deepEqual(checks([row('pgd40-ce(T=1)@0.1', 0.5), row('pgd40-ce(T=1)@0.5', 0.45)]), [['no-collapse', ['pgd40-ce(T=1)@0.5']]]);
    assert.deepEqual(checks([row('pgd40-ce(T=1)@0.1', 0.3), row('pgd40-ce(T=1)@0.5', 0.1)]), []);
    assert.deepEqual(checks([row('pgd40-ce(T=1)@0.1', 0.3), row('pgd40-ce(T=1)@0.2', 0.4)]), [['no-collapse', ['pgd40-ce(T=1)@0.2', 'pgd40-ce(T=1)@0.1']]]);
    // L2: 0.5 * sqrt(784) = 14 is the grey-image radius for 28x28x1.
    assert.deepEqual(checks([row('pgd40-l2-ce(T=1)@14', 0.5, { norm: 'l2' })]), [['no-collapse', ['pgd40-l2-ce(T=1)@14']]]);
    assert.deepEqual(checks([row('pgd40-l2-ce(T=1)@3', 0.5, { norm: 'l2' })]), []);
  });

  it('flags a white-box attack beaten by a black-box or transfer attack at the same eps and norm', () => {
    const square = row('square1000-cw@0.3', 0.1, { access: 'black-box', zeroGradFraction: null });
    const transfer = row('transfer(mlp,T=1):pgd40-ce(T=1)@0.3', 0.2, { access: 'transfer', zeroGradFraction: null, attack: 'transfer' });
    assert.deepEqual(checks([row('pgd40-ce(T=1)@0.3', 0.4), square]), [
      ['black-box-stronger', ['pgd40-ce(T=1)@0.3', 'square1000-cw@0.3']],
    ]);
    assert.deepEqual(checks([row('pgd40-cw@0.3', 0.3), transfer]), [['black-box-stronger', ['pgd40-cw@0.3', 'transfer(mlp,T=1):pgd40-ce(T=1)@0.3']]]);
    // Compared with the strongest white-box attack at that eps, not with a weak one.
    assert.deepEqual(checks([row('fgsm-ce(T=1)@0.3', 0.6), row('pgd40-ce(T=1)@0.3', 0.05), square]), []);
    assert.deepEqual(checks([row('pgd40-ce(T=1)@0.1', 0.4), square]), [], 'different eps: not comparable');
  });

  it('compares rows on the same images only: an attack run on a subset (its own samples) is no evidence against the full rows', () => {
    const square = row('square1000-cw[n=100]@0.3', 0.1, { access: 'black-box', zeroGradFraction: null, n: 100 });
    assert.deepEqual(checks([row('pgd40-ce(T=1)@0.3', 0.4), square]), []);
    assert.deepEqual(checks([row('pgd40-ce(T=1)[n=100]@0.3', 0.4, { n: 100 }), square]), [
      ['black-box-stronger', ['pgd40-ce(T=1)[n=100]@0.3', 'square1000-cw[n=100]@0.3']],
    ]);
  });

  it('ignores corruption rows and rows without gradients for the gradient checks', () => {
    const corruption = row('gaussian_noise@s5', 0.9, { kind: 'corruption', norm: '', loss: '', eps: 0, zeroGradFraction: null, access: undefined });
    const audit = auditMasking([corruption, row('square1000-cw@0.3', 0.5, { access: 'black-box', zeroGradFraction: null })], MNIST);
    assert.deepEqual(audit.flags, []);
    assert.equal(audit.maxZeroGradFraction, null);
  });

  it('compares CE with a margin loss only at the same budget: PGD-5 CE against PGD-40 CW is no evidence about the loss', () => {
    // The false alarm seen on a T = 1 model without zero gradients: 5 steps of 0.01 cannot reach eps 0.3.
    const short = row('pgd5-ce(T=1)@0.3', 0.62, { params: { steps: 5, stepSize: 0.01, randomStart: true, restarts: 1, target: 'none' } });
    const long = row('pgd40-cw@0.3', 0.0, { params: { steps: 40, stepSize: 0.01, randomStart: true, restarts: 1, target: 'none' } });
    assert.equal(sameBudget(short, long), false);
    const audit = auditMasking([short, long], MNIST);
    assert.deepEqual(audit.flags.map((flag) => [flag.check, flag.rows]), [['budget-too-small', ['pgd5-ce(T=1)@0.3']]]);
    assert.match(audit.flags[0]!.message, /takes 5 steps of 0\.01 \(0\.05 in all\), which cannot reach eps 0\.3/);
    assert.doesNotMatch(audit.flags[0]!.message, /saturat/);
    // The same two losses at 40 steps each: like with like, and flagged.
    const ce40 = row('pgd40-ce(T=1)@0.3', 0.62, { params: long.params });
    assert.equal(sameBudget(ce40, long), true);
    assert.deepEqual(checks([ce40, long]), [['ce-above-margin', ['pgd40-ce(T=1)@0.3', 'pgd40-cw@0.3']]]);
    // Restarts or a different step size are a different budget too.
    assert.deepEqual(checks([ce40, row('pgd40-cw@0.3', 0.0, { params: { ...long.params, restarts: 5 } })]), []);
    assert.deepEqual(checks([ce40, row('pgd40-cw@0.3', 0.0, { params: { ...long.params, stepSize: 0.02 } })]), []);
  });

  it('ce-above-margin states its evidence: saturation only when CE\'s gradients were zero', () => {
    const params = { steps: 40, stepSize: 0.01, randomStart: true, restarts: 1, target: 'none' };
    const [saturated] = auditMasking([row('pgd40-ce(T=1)@0.3', 0.76, { zeroGradFraction: 0.62, params }), row('pgd40-cw@0.3', 0.0, { params })], MNIST).flags.filter(
      (flag) => flag.check === 'ce-above-margin',
    );
    assert.match(saturated!.message, /62\.0% of the CE input gradients were exactly zero: CE at T = 1 saturates on this model/);
    const [weaker] = auditMasking([row('pgd40-ce(T=1)@0.3', 0.3, { zeroGradFraction: 0, params }), row('pgd40-cw@0.3', 0.1, { params })], MNIST).flags;
    assert.equal(weaker!.check, 'ce-above-margin');
    assert.match(weaker!.message, /were not zero \(0\.0%\), so CE at T = 1 is a weaker loss here without saturating/);
  });

  it('flags a fixed-step budget that cannot reach eps (steps * stepSize < eps), and only that', () => {
    const pgd = (steps: number, stepSize: number | 'auto', eps = 0.3, attack = 'pgd') => row(`${attack}${steps}-ce(T=1)@${eps}`, 0.5, { attack, params: { steps, stepSize } });
    assert.equal(reachesEps(pgd(5, 0.01)), false);
    assert.equal(reachesEps(pgd(29, 0.01)), false);
    assert.equal(reachesEps(pgd(30, 0.01)), true, '30 * 0.01 is 0.3 up to rounding');
    assert.equal(reachesEps(pgd(10, 0.03)), true);
    assert.equal(reachesEps(pgd(10, 'auto', 0.3, 'bim')), true, 'the default step size is eps / steps');
    assert.equal(reachesEps(pgd(3, 0.05, 0.3, 'mifgsm')), false);
    assert.equal(reachesEps(row('pgd10-l2-ce(T=1)@2', 0.5, { attack: 'pgd-l2', norm: 'l2', params: { steps: 10, stepSize: 0.1 } })), false);
    assert.equal(reachesEps(row('apgd5-ce(T=1)@0.3', 0.5, { attack: 'apgd', params: { steps: 5, restarts: 1 } })), true, 'APGD sets its own step size');
    const transfer = row('transfer(mlp,T=1):pgd5-ce(T=1)@0.3', 0.5, { attack: 'transfer', access: 'transfer', zeroGradFraction: null, params: { via: 'pgd', steps: 5, stepSize: 0.01 } });
    assert.deepEqual(checks([transfer]), [['budget-too-small', ['transfer(mlp,T=1):pgd5-ce(T=1)@0.3']]]);
  });

  it('leaves a budget that cannot reach eps out of every comparison', () => {
    const short = { steps: 5, stepSize: 0.01 };
    // Weaker than FGSM because of its budget: not an iterative-not-stronger flag.
    assert.deepEqual(checks([row('fgsm-ce(T=1)@0.3', 0.5), row('pgd5-ce(T=1)@0.3', 0.6, { params: short })]), [['budget-too-small', ['pgd5-ce(T=1)@0.3']]]);
    // 40 steps of 0.01 cannot reach the grey image at eps 0.5: not a no-collapse flag.
    assert.deepEqual(checks([row('pgd40-ce(T=1)@0.5', 0.6, { params: { steps: 40, stepSize: 0.01 } })]), [['budget-too-small', ['pgd40-ce(T=1)@0.5']]]);
    // Square beats only a white-box attack that could not reach eps: not a black-box-stronger flag.
    const square = row('square1000-cw@0.3', 0.1, { access: 'black-box', zeroGradFraction: null });
    assert.deepEqual(checks([row('pgd5-ce(T=1)@0.3', 0.6, { params: short }), square]), [['budget-too-small', ['pgd5-ce(T=1)@0.3']]]);
  });
});

/** One model's record with these rows in place of the fixture's. */
function withRows(rows: AttackResult[], temperature = 100): RunRecord {
  return { ...record({ temperature, accuracies: [0.9, 0, 0, 0] }), attacks: rows };
}

describe('gradient-masking warnings on ensembles', () => {
  const ensemble = (accuracy: number, members = 'apgd100-ce(T=1) + apgd100-dlr-random + square1000-cw') =>
    row('autoattack@0.1', accuracy, { attack: 'autoattack', access: 'ensemble', loss: '', lossTemperature: null, zeroGradFraction: 0.768, params: { attacks: members } });
  const cw = (accuracy: number) => row('pgd40-cw@0.1', accuracy, { zeroGradFraction: 0 });

  it('does not flag an ensemble whose scale-invariant members reach the margin attack\'s number', () => {
    // The false alarm seen at T = 100: autoattack 23.2%, pgd40-cw 23.0%, APGD-CE (its first member) 76.8% zero gradients.
    assert.deepEqual(gradientMaskingWarnings([withRows([ensemble(0.232), cw(0.23)])]), []);
    // Nor without a margin attack beside it: its DLR and Square members are that comparison.
    assert.deepEqual(gradientMaskingWarnings([withRows([ensemble(0.232)])]), []);
  });

  it('flags an ensemble that leaves clearly more than the margin attack, naming the member whose gradients were zero', () => {
    const warnings = gradientMaskingWarnings([withRows([ensemble(0.4), cw(0.23)])]);
    assert.deepEqual(warnings.map((w) => [w.label, w.firstMember, w.cwComparisons]), [['autoattack@0.1', 'apgd100-ce(T=1)', [{ label: 'pgd40-cw@0.1', accuracy: 23 }]]]);
    assert.match(formatWarning(warnings[0]!), /76\.8% of input gradients were exactly zero under apgd100-ce\(T=1\), the first member of autoattack@0\.1/);
  });

  it('flags an ensemble without a scale-invariant member like any attack', () => {
    const ceOnly = ensemble(0.232, 'apgd100-ce(T=1) + square1000-ce(T=1)');
    assert.deepEqual(gradientMaskingWarnings([withRows([ceOnly, cw(0.23)])]).map((w) => w.label), ['autoattack@0.1']);
  });

  it('still flags a single CE attack with zero gradients', () => {
    const ce = row('pgd40-ce(T=1)@0.1', 0.7, { zeroGradFraction: 0.6 });
    assert.deepEqual(gradientMaskingWarnings([withRows([ce, cw(0.23)])]).map((w) => w.label), ['pgd40-ce(T=1)@0.1']);
  });
});

