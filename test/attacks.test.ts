import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { disposeOutput } from '../src/attacks/attack.js';
import { attackConfig, attackFixture, meanOf, perturbation, robustAccuracy, runAttack, type AttackFixture } from './attack-fixture.js';

let fixture: AttackFixture;

describe('attacks on a small trained model', () => {
  before(async () => {
    fixture = await attackFixture();
  });

  for (const config of [
    attackConfig({ name: 'fgsm', eps: 0.1 }),
    attackConfig({ name: 'pgd', eps: 0.1, steps: 10, stepSize: 0.03 }),
    attackConfig({ name: 'pgd', eps: 0.1, steps: 5, stepSize: 0.05, loss: 'cw', restarts: 2 }),
    attackConfig({ name: 'pgd', eps: 0.1, steps: 5, stepSize: 0.05, loss: 'dlr' }),
    attackConfig({ name: 'pgd', eps: 0.1, steps: 5, stepSize: 0.05, target: 'random' }),
  ]) {
    it(`${config.name} (${JSON.stringify(config)}) never leaves the eps-ball or [0, 1]`, async () => {
      const eps = 0.1;
      const output = runAttack(fixture, config, eps);
      const { linf, low, high } = await perturbation(fixture, output);
      disposeOutput(output);
      assert.ok(linf <= eps + 1e-6, `max |x' - x| = ${linf} > eps = ${eps}`);
      assert.ok(linf > eps / 2, `the attack barely moved (max |x' - x| = ${linf})`);
      assert.ok(low >= 0 && high <= 1, `pixels outside [0, 1]: [${low}, ${high}]`);
    });
  }

  it('eps = 0 gives the clean accuracy', async () => {
    for (const config of [attackConfig({ name: 'fgsm', eps: 0 }), attackConfig({ name: 'pgd', eps: 0, steps: 5 })]) {
      assert.equal(await robustAccuracy(runAttack(fixture, config, 0)), fixture.clean, `${config.name} at eps 0`);
    }
  });

  it('PGD is no weaker than FGSM on the same model and eps', async () => {
    const eps = 0.15;
    const fgsmAccuracy = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'fgsm', eps }), eps));
    const pgdAccuracy = await robustAccuracy(runAttack(fixture, attackConfig({ name: 'pgd', eps, steps: 20, stepSize: 0.02 }), eps));
    assert.ok(pgdAccuracy <= fgsmAccuracy, `PGD ${pgdAccuracy} > FGSM ${fgsmAccuracy}`);
    assert.ok(fgsmAccuracy < fixture.clean, `FGSM did not lower accuracy (${fgsmAccuracy} vs clean ${fixture.clean})`);
  });

  it('cross-entropy at a tiny loss temperature saturates: input gradients become exactly zero', async () => {
    // Dividing logits by T = 0.001 makes the softmax one-hot in float32, so CE's gradient underflows to 0
    // for confidently correct examples, the same mechanism as attacking a T = 100 model at T = 1.
    const config = attackConfig({ name: 'fgsm', eps: 0.1 });
    const outputs = [
      runAttack(fixture, config, 0.1, { lossTemperature: 0.001 }),
      runAttack(fixture, config, 0.1, { lossTemperature: 1 }),
      runAttack(fixture, attackConfig({ name: 'fgsm', eps: 0.1, loss: 'cw' }), 0.1),
      runAttack(fixture, attackConfig({ name: 'fgsm', eps: 0.1, loss: 'dlr' }), 0.1),
    ];
    const [saturated, normal, cw, dlr] = await Promise.all(outputs.map((o) => meanOf(tf.clone(o.zeroGradient!))));
    outputs.forEach(disposeOutput);
    assert.ok(saturated! > 0.5, 'expected most gradients to vanish at T = 0.001');
    assert.equal(normal, 0);
    assert.equal(cw, 0, 'the CW margin is scale-invariant and never saturates');
    assert.equal(dlr, 0, 'DLR is scale-invariant and never saturates');
  });

  it('an attack keeps no tensors alive', () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) disposeOutput(runAttack(fixture, attackConfig({ name: 'pgd', eps: 0.1, steps: 3, restarts: 2, target: 'least-likely' }), 0.1));
    assert.equal(tf.memory().numTensors, before);
  });
});
