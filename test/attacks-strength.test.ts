// Every attack against the same fixed small model: none may be weaker than one FGSM step with the same budget
// (for L2 attacks, the L2 radius that contains every FGSM perturbation: eps * sqrt(pixels)).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { attackConfig, attackFixture, robustAccuracy, runAttack, type AttackFixture } from './attack-fixture.js';

let fixture: AttackFixture;
const EPS = 0.08;

describe('every attack is at least as strong as FGSM on a fixed small model', () => {
  let fgsm: number;
  before(async () => {
    fixture = await attackFixture();
    fgsm = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'fgsm', eps: EPS }), EPS));
    // The comparison only means something if FGSM leaves accuracy to take away.
    assert.ok(fgsm > 0.05 && fgsm < fixture.clean, `FGSM accuracy ${fgsm} (clean ${fixture.clean})`);
  });

  const pixels = 12 * 12 * 1;
  const l2 = EPS * Math.sqrt(pixels);
  const cases: Array<[string, Record<string, unknown>, number]> = [
    ['pgd', { name: 'pgd', steps: 20, stepSize: EPS / 4 }, EPS],
    ['pgd with the CW loss', { name: 'pgd', steps: 20, stepSize: EPS / 4, loss: 'cw' }, EPS],
    ['bim', { name: 'bim', steps: 10 }, EPS],
    ['mifgsm', { name: 'mifgsm', steps: 10 }, EPS],
    ['apgd-ce', { name: 'apgd', steps: 20 }, EPS],
    ['apgd-dlr', { name: 'apgd', steps: 20, loss: 'dlr' }, EPS],
    ['square', { name: 'square', queries: 500 }, EPS],
    ['fab', { name: 'fab', steps: 20 }, EPS],
    ['fab-t', { name: 'fab', steps: 20, target: 'top', restarts: 3 }, EPS],
    ['autoattack', { name: 'autoattack', attacks: [{ name: 'apgd', steps: 20 }, { name: 'apgd', steps: 20, loss: 'dlr', target: 'random' }, { name: 'square', queries: 200 }] }, EPS],
    ['pgd-l2', { name: 'pgd-l2', steps: 20 }, l2],
    ['fab-l2', { name: 'fab-l2', steps: 20 }, l2],
    ['cw-l2', { name: 'cw-l2', steps: 50, binarySteps: 5, learningRate: 0.05 }, l2],
  ];
  for (const [name, parts, eps] of cases) {
    it(`${name} at eps ${Number(eps.toFixed(3))}`, async () => {
      const accuracy = await robustAccuracy(runAttack(fixture, attackConfig({ ...parts, eps }), eps));
      assert.ok(accuracy <= fgsm, `${name} leaves ${accuracy}, FGSM at Linf ${EPS} leaves ${fgsm}`);
    });
  }
});
