import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { attackLabels, CLEAN_LABEL, expandGrid } from '../src/config/grid.js';
import { attackSchema, configSchema, type ExperimentConfig } from '../src/config/schema.js';
import { canonicalJson, hashOf } from '../src/util/hash.js';

const raw = {
  name: 'sweep',
  datasets: ['mnist', 'synthetic'],
  architectures: ['mlp', 'cnn-small'],
  temperatures: [0.5, 1, 30],
  seeds: [0, 1],
  attacks: [{ name: 'pgd', eps: 0.3 }],
};

function config(overrides: Record<string, unknown> = {}): ExperimentConfig {
  return configSchema.parse({ ...raw, ...overrides });
}

function labels(attacks: unknown[]): string[][] {
  return attackLabels(attacks.map((a) => attackSchema.parse(a)));
}

describe('the grid is datasets x architectures x temperatures x seeds', () => {
  it('has one job per combination', () => {
    assert.equal(expandGrid(config()).length, 2 * 2 * 3 * 2);
  });

  it('nests dataset outermost, then architecture, temperature and seed; index is the position', () => {
    const jobs = expandGrid(config());
    const cells = jobs.map((j) => `${j.dataset}/${j.architecture}/${j.temperature}/${j.seed}`);
    assert.deepEqual(cells.slice(0, 7), [
      'mnist/mlp/0.5/0',
      'mnist/mlp/0.5/1',
      'mnist/mlp/1/0',
      'mnist/mlp/1/1',
      'mnist/mlp/30/0',
      'mnist/mlp/30/1',
      'mnist/cnn-small/0.5/0',
    ]);
    assert.equal(cells.at(-1), 'synthetic/cnn-small/30/1');
    assert.deepEqual(jobs.map((j) => j.index), jobs.map((_, i) => i));
    assert.ok(jobs.every((j) => j.experiment === 'sweep'));
  });

  it('carries the resolved training, data, attacks and eval into every job', () => {
    const [job] = expandGrid(config());
    assert.equal(job!.training.epochs, 3);
    assert.deepEqual(job!.attacks[0]!.eps, [0.3]);
    assert.equal(job!.eval.samples, 1000);
    assert.deepEqual(job!.data, { augment: { randomCrop: 0, horizontalFlip: false } });
  });

  it('gives jobs their own copies, so changing one job changes no other', () => {
    const [first, second] = expandGrid(config());
    first!.training.epochs = 99;
    assert.equal(second!.training.epochs, 3);
  });
});

describe('a job is identified by a hash of its resolved config', () => {
  it('runId is 16 hex characters, the same on every expansion', () => {
    const ids = expandGrid(config()).map((j) => j.runId);
    assert.ok(ids.every((id) => /^[0-9a-f]{16}$/.test(id)));
    assert.deepEqual(expandGrid(config()).map((j) => j.runId), ids);
  });

  it('runId does not depend on the key order of the config', () => {
    const reversed = Object.fromEntries(Object.entries(raw).reverse());
    const reorderedAttack = { eps: 0.3, name: 'pgd' };
    const other = configSchema.parse({ ...reversed, attacks: [reorderedAttack] });
    assert.deepEqual(expandGrid(other).map((j) => j.runId), expandGrid(config()).map((j) => j.runId));
  });

  it('runId differs between temperatures, and every job in a grid has its own', () => {
    const jobs = expandGrid(config());
    assert.notEqual(jobs[0]!.temperature, jobs[2]!.temperature);
    assert.notEqual(jobs[0]!.runId, jobs[2]!.runId);
    assert.equal(new Set(jobs.map((j) => j.runId)).size, jobs.length);
  });

  it('runId does not depend on the position, so growing the grid keeps the ids of existing jobs', () => {
    const small = expandGrid(config({ datasets: ['synthetic'] }));
    const large = expandGrid(config());
    const largeIds = new Set(large.map((j) => j.runId));
    assert.ok(small.every((j) => largeIds.has(j.runId)));
    assert.notEqual(small[0]!.index, large.find((j) => j.runId === small[0]!.runId)!.index);
  });

  it('trainingId ignores attacks, eval and the experiment name, so new attacks reuse a trained model', () => {
    const base = expandGrid(config());
    const other = expandGrid(config({ name: 'renamed', attacks: [{ name: 'fgsm', eps: 0.2 }], eval: { samples: 10 } }));
    assert.deepEqual(other.map((j) => j.trainingId), base.map((j) => j.trainingId));
    assert.notDeepEqual(other.map((j) => j.runId), base.map((j) => j.runId));
    const retrained = expandGrid(config({ training: { epochs: 4 } }));
    assert.ok(retrained.every((j, i) => j.trainingId !== base[i]!.trainingId));
  });

  it('canonicalJson sorts keys at every level and keeps list order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: null } }), '{"a":{"c":null,"d":[2,1]},"b":1}');
    assert.equal(canonicalJson({ a: undefined, b: 'x' }), '{"b":"x"}');
    assert.equal(hashOf({ x: 1, y: 2 }), hashOf({ y: 2, x: 1 }));
    assert.equal(hashOf('x', 8).length, 8);
  });
});

describe('attack labels name one table column per attack and eps', () => {
  it('labels the SPEC example attacks', () => {
    assert.deepEqual(
      labels([
        { name: 'fgsm', eps: [0.1, 0.3] },
        { name: 'pgd', eps: 0.3, steps: 40, stepSize: 0.01, loss: 'ce', lossTemperature: 1 },
        { name: 'pgd', eps: 0.3, steps: 40, stepSize: 0.01, loss: 'cw' },
      ]),
      [['fgsm-ce(T=1)@0.1', 'fgsm-ce(T=1)@0.3'], ['pgd40-ce(T=1)@0.3'], ['pgd40-cw@0.3']],
    );
  });

  it('prints lossTemperature as given: a number or "train"', () => {
    assert.deepEqual(
      labels([
        { name: 'pgd', eps: 0.3, lossTemperature: 30 },
        { name: 'pgd', eps: 0.3, lossTemperature: 'train' },
        { name: 'pgd', eps: 0.3, steps: 100 },
      ]),
      [['pgd40-ce(T=30)@0.3'], ['pgd40-ce(T=train)@0.3'], ['pgd100-ce(T=1)@0.3']],
    );
  });

  it('numbers later entries that would repeat a label: #2, #3', () => {
    assert.deepEqual(
      labels([
        { name: 'pgd', eps: [0.1, 0.3], loss: 'cw' },
        { name: 'pgd', eps: 0.3, loss: 'cw', stepSize: 0.02 },
        { name: 'pgd', eps: 0.3, loss: 'cw', restarts: 5 },
        { name: 'pgd', eps: 0.5, loss: 'cw', randomStart: false },
      ]),
      [['pgd40-cw@0.1', 'pgd40-cw@0.3'], ['pgd40#2-cw@0.3'], ['pgd40#3-cw@0.3'], ['pgd40-cw@0.5']],
    );
  });

  it('labels clean accuracy "clean"', () => {
    assert.equal(CLEAN_LABEL, 'clean');
  });
});
