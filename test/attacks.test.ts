import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { disposeOutput, exactSign, type AttackTarget } from '../src/attacks/attack.js';
import { attackLoss, getAttack } from '../src/attacks/index.js';
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

  it('exactSign is exact for tiny gradients (tfjs-wasm\'s Sign kernel returns 0 below 1.19e-7)', async () => {
    const values = tf.tensor1d([1e-30, -1e-8, 0, 2, -3, 1e-7]);
    const signs = exactSign(values);
    assert.deepEqual(Array.from(await signs.data()), [1, -1, 0, 1, -1, 1]);
    tf.dispose([values, signs]);
  });

  it('signed-gradient attacks move along gradients far below 1e-7 (a saturated softmax\'s are), not only exact zeros', async () => {
    // A linear model with tiny weights: every input gradient is nonzero but about 1e-9 per pixel.
    const pixels = 12 * 12;
    const weights = tf.mul(tf.randomUniform([pixels, 4], -1, 1, 'float32', 3), 1e-9);
    const tiny: AttackTarget = { logits: (x) => tf.matMul(tf.reshape(x, [-1, pixels]), weights) as tf.Tensor2D, temperature: 1 };
    const images = tf.fill([8, 12, 12, 1], 0.5) as tf.Tensor4D;
    const labels = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32');
    for (const config of [attackConfig({ name: 'fgsm' }), attackConfig({ name: 'pgd', steps: 3, stepSize: 0.05, randomStart: false }), attackConfig({ name: 'bim', steps: 2 })]) {
      const output = getAttack(config.name).run({ target: tiny, images, labels, eps: 0.1, loss: attackLoss('ce', 1), config, seed: 1 } as never);
      const moved = tf.tidy(() => tf.min(tf.max(tf.abs(tf.sub(output.adversarial, images)), [1, 2, 3])));
      const zero = tf.sum(output.zeroGradient!);
      assert.ok((await moved.data())[0]! > 0.09, `${config.name} did not move every image (tiny gradients were treated as zero)`);
      assert.equal((await zero.data())[0], 0, 'the gradients are tiny, not zero');
      tf.dispose([moved, zero]);
      disposeOutput(output);
    }
    tf.dispose([weights, images, labels]);
  });

  it('an attack keeps no tensors alive', () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) disposeOutput(runAttack(fixture, attackConfig({ name: 'pgd', eps: 0.1, steps: 3, restarts: 2, target: 'least-likely' }), 0.1));
    assert.equal(tf.memory().numTensors, before);
  });
});
