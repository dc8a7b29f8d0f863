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

describe('a sweep adds axes: any setting under training, data or eval', () => {
  const sweep = { 'training.labelSmoothing': [0, 0.1], 'training.adversarial.eps': [0.1, 0.3] };

  it('nests dataset, architecture, sweep combination (first key outermost), temperature, seed', () => {
    const jobs = expandGrid(config({ datasets: ['mnist'], architectures: ['mlp'], temperatures: [1, 5], seeds: [0], sweep }));
    assert.equal(jobs.length, 1 * 1 * 4 * 2 * 1);
    const cells = jobs.map((j) => `${j.training.labelSmoothing}/${j.training.adversarial?.eps}/T=${j.temperature}`);
    assert.deepEqual(cells, ['0/0.1/T=1', '0/0.1/T=5', '0/0.3/T=1', '0/0.3/T=5', '0.1/0.1/T=1', '0.1/0.1/T=5', '0.1/0.3/T=1', '0.1/0.3/T=5']);
    assert.equal(expandGrid(config({ sweep })).length, 2 * 2 * 4 * 3 * 2);
    const [first] = expandGrid(config({ sweep, datasets: ['synthetic', 'mnist'] }));
    assert.equal(first!.dataset, 'synthetic', 'the dataset stays outermost');
  });

  it('each job carries its values in its resolved settings, defaults filled in, and records them by key', () => {
    const jobs = expandGrid(config({ sweep }));
    assert.deepEqual(jobs[0]!.sweep, { 'training.labelSmoothing': 0, 'training.adversarial.eps': 0.1 });
    assert.deepEqual(jobs.at(-1)!.sweep, { 'training.labelSmoothing': 0.1, 'training.adversarial.eps': 0.3 });
    assert.deepEqual(jobs.at(-1)!.training.adversarial, { attack: 'pgd', eps: 0.3, steps: 7, loss: 'ce', lossTemperature: 'train', ratio: 1 });
    assert.equal(jobs.at(-1)!.training.labelSmoothing, 0.1);
    assert.equal(new Set(jobs.map((j) => j.runId)).size, jobs.length, 'every combination is its own job');
    assert.equal(new Set(jobs.map((j) => j.trainingId)).size, jobs.length, 'and its own trained model');
  });

  it('a sweep value replaces the same setting written elsewhere in the config', () => {
    const jobs = expandGrid(config({ training: { labelSmoothing: 0.5, epochs: 2 }, sweep: { 'training.labelSmoothing': [0, 0.1] } }));
    assert.deepEqual([...new Set(jobs.map((j) => j.training.labelSmoothing))], [0, 0.1]);
    assert.ok(jobs.every((j) => j.training.epochs === 2), 'the other settings stay');
  });

  it('a config without a sweep keeps the runIds it had before sweeps existed, so its folders resume', () => {
    const jobs = expandGrid(config({ training: { labelSmoothing: 0.1 } }));
    // Computed by the grid before this feature; the hash of the job without runId, trainingId and index.
    assert.equal(jobs[0]!.runId, '18a97b40375d776a');
    assert.equal(jobs.at(-1)!.runId, '29777dcd97f8706e');
    assert.equal(jobs[0]!.trainingId, 'd01c89f2e98451da');
    assert.ok(jobs.every((j) => !('sweep' in j)));
  });

  it('a setting moved into a sweep, or a value added to an axis, keeps the ids of the jobs that ran', () => {
    const fixed = expandGrid(config({ training: { labelSmoothing: 0.1 } })).map((j) => j.runId);
    const one = expandGrid(config({ sweep: { 'training.labelSmoothing': [0.1] } })).map((j) => j.runId);
    assert.deepEqual(one, fixed);
    const two = expandGrid(config({ sweep: { 'training.labelSmoothing': [0, 0.1] } })).map((j) => j.runId);
    assert.ok(fixed.every((id) => two.includes(id)));
    assert.equal(two.filter((id) => !fixed.includes(id)).length, fixed.length, 'only the new value makes new jobs');
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
