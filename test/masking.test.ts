import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { auditMasking, markRows } from '../src/eval/masking.js';
import type { AttackResult } from '../src/types.js';

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

  it('ignores corruption rows and rows without gradients for the gradient checks', () => {
    const corruption = row('gaussian_noise@s5', 0.9, { kind: 'corruption', norm: '', loss: '', eps: 0, zeroGradFraction: null, access: undefined });
    const audit = auditMasking([corruption, row('square1000-cw@0.3', 0.5, { access: 'black-box', zeroGradFraction: null })], MNIST);
    assert.deepEqual(audit.flags, []);
    assert.equal(audit.maxZeroGradFraction, null);
  });
});
