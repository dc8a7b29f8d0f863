import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type ConfigProblem } from '../src/config/errors.js';
import { loadConfig, parseConfigText } from '../src/config/load.js';
import { buildJsonSchema, projectRoot, writeJsonSchema } from '../src/config/write-schema.js';
import { shortBudgets } from '../src/config/units.js';
import type { PgdConfig } from '../src/config/schema.js';

const names = { datasets: ['mnist', 'synthetic'], architectures: ['mlp', 'cnn-small'] };
const FILE = 'configs/x.json';

const minimal = { name: 'x', datasets: ['mnist'], architectures: ['mlp'], temperatures: [1, 5] };

// The example config of SPEC.md, with comments and trailing commas.
const QUICKSTART_JSONC = `{
  // the embedded MNIST quickstart
  "name": "quickstart",
  "datasets": ["mnist"],
  "architectures": ["cnn-small"],
  "temperatures": [0.5, 1, 5, 30, 100], /* the paper's grid, shortened */
  "seeds": [0, 1],
  "training": { "epochs": 3, "batchSize": 128, "optimizer": { "name": "adam", "lr": 0.001, }, },
  "attacks": [
    { "name": "fgsm", "eps": [0.1, 0.3] },
    { "name": "pgd", "eps": 0.3, "steps": 40, "stepSize": 0.01, "loss": "ce", "lossTemperature": 1 },
    { "name": "pgd", "eps": 0.3, "steps": 40, "stepSize": 0.01, "loss": "cw" },
  ],
  "eval": { "samples": 1000 },
}
`;

const QUICKSTART_YAML = `# the embedded MNIST quickstart
name: quickstart
datasets: [mnist]
architectures: [cnn-small]
temperatures: [0.5, 1, 5, 30, 100]
seeds: [0, 1]
training:
  epochs: 3
  batchSize: 128
  optimizer: { name: adam, lr: 0.001 }
attacks:
  - { name: fgsm, eps: [0.1, 0.3] }
  - { name: pgd, eps: 0.3, steps: 40, stepSize: 0.01, loss: ce, lossTemperature: 1 }
  - { name: pgd, eps: 0.3, steps: 40, stepSize: 0.01, loss: cw }
eval:
  samples: 1000
`;

function problemsOf(load: () => unknown): ConfigProblem[] {
  try {
    load();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.message, error.problems.map((p) => p.message).join('\n'));
    return error.problems;
  }
  return assert.fail('expected the config to be rejected');
}

function problemsFor(config: Record<string, unknown>, overrides?: string[]): ConfigProblem[] {
  return problemsOf(() => parseConfigText(JSON.stringify(config), FILE, { names, overrides }));
}

/** The one problem of a config, checked field by field. */
function assertOneProblem(problems: ConfigProblem[], want: Partial<ConfigProblem>): ConfigProblem {
  assert.equal(problems.length, 1, problems.map((p) => p.message).join('\n'));
  const [only] = problems as [ConfigProblem];
  for (const [key, value] of Object.entries(want)) assert.equal(only[key as keyof ConfigProblem], value, `${key} of ${only.message}`);
  return only;
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'temper-config-'));
}

describe('a malformed config is rejected, naming the file, the path, what was expected and what was found', () => {
  it('a corruption that cannot be generated, with the reason and what to do', () => {
    const problems = problemsFor({ ...minimal, corruptions: { types: ['contrast', 'frost'], source: 'generated' } });
    const only = assertOneProblem(problems, { file: FILE, path: 'corruptions.types' });
    assert.match(only.message, /frost cannot be generated; use source "files" or "auto"/);
  });

  it('a transfer attack whose surrogate is not in the grid names the field and the choices', () => {
    const problems = problemsFor({
      ...minimal,
      attacks: [{ name: 'transfer', eps: 0.1, source: { architecture: 'mlp', temperature: 7 }, attack: { name: 'fgsm' } }],
    });
    assertOneProblem(problems, { file: FILE, path: 'attacks[0].source.temperature', found: '7' });
  });

  it('negative eps', () => {
    const problems = problemsFor({ ...minimal, attacks: [{ name: 'fgsm', eps: 0.1 }, { name: 'fgsm', eps: -0.1 }] });
    assertOneProblem(problems, {
      file: FILE,
      path: 'attacks[1].eps',
      expected: 'a number >= 0 or a list of them',
      found: '-0.1',
      message: 'configs/x.json: attacks[1].eps: expected a number >= 0 or a list of them, found -0.1',
    });
  });

  it('a negative eps inside a list points at the entry', () => {
    const problems = problemsFor({ ...minimal, attacks: [{ name: 'fgsm', eps: [0.1, -1] }] });
    assertOneProblem(problems, { path: 'attacks[0].eps[1]', expected: 'a number >= 0', found: '-1' });
  });

  it('eps as a string', () => {
    const problems = problemsFor({ ...minimal, attacks: [{ name: 'pgd', eps: '8/255' }] });
    assertOneProblem(problems, { path: 'attacks[0].eps', expected: 'a number >= 0 or a list of them', found: '"8/255"' });
  });

  it('unknown top-level key, listing the allowed keys', () => {
    const problems = problemsFor({ ...minimal, epochs: 3 });
    const problem = assertOneProblem(problems, { path: 'epochs', found: '"epochs"' });
    assert.match(problem.message, /^configs\/x\.json: epochs: unknown key "epochs"; expected one of: \$schema, name, .*training/);
  });

  it('unknown key in training, with a suggestion', () => {
    const problems = problemsFor({ ...minimal, training: { batchsize: 64 } });
    const problem = assertOneProblem(problems, {
      path: 'training.batchsize',
      expected: 'one of: epochs, batchSize, shuffle, optimizer, schedule, labelSmoothing, checkpoint, adversarial',
    });
    assert.match(problem.message, /unknown key "batchsize"; expected one of: epochs, batchSize, shuffle, optimizer, schedule, labelSmoothing, checkpoint, adversarial; did you mean "batchSize"\?/);
  });

  it('unknown key in a pgd attack lists the keys pgd takes', () => {
    const problems = problemsFor({ ...minimal, attacks: [{ name: 'pgd', eps: 0.1, stepsize: 0.01 }] });
    const problem = assertOneProblem(problems, { path: 'attacks[0].stepsize' });
    assert.match(problem.message, /expected one of: name, eps, samples, loss, lossTemperature, steps, stepSize, randomStart, restarts/);
  });

  it('unknown dataset, listing the valid ones', () => {
    const problems = problemsFor({ ...minimal, datasets: ['mnistt'] });
    const problem = assertOneProblem(problems, { path: 'datasets[0]', expected: 'one of: mnist, synthetic', found: '"mnistt"' });
    assert.match(problem.message, /^configs\/x\.json: datasets\[0\]: unknown dataset "mnistt"; expected one of: mnist, synthetic; did you mean "mnist"\?$/);
  });

  it('unknown architecture, listing the valid ones', () => {
    const problems = problemsFor({ ...minimal, architectures: ['mlp', 'resnet'] });
    const problem = assertOneProblem(problems, { path: 'architectures[1]', found: '"resnet"' });
    assert.match(problem.message, /architectures\[1\]: unknown architecture "resnet"; expected one of: mlp, cnn-small/);
  });

  it('unknown attack name, listing the attacks of the schema', () => {
    const attacks = [{ name: 'fgsm', eps: 0.1 }, { name: 'pgd', eps: 0.1 }, { name: 'pgdd', eps: 0.1 }];
    const problem = assertOneProblem(problemsFor({ ...minimal, attacks }), { path: 'attacks[2].name', found: '"pgdd"' });
    assert.match(problem.message, /attacks\[2\]\.name: unknown attack "pgdd"; expected one of: fgsm, pgd/);
  });

  it('unknown optimizer name', () => {
    const problems = problemsFor({ ...minimal, training: { optimizer: { name: 'rmsprop' } } });
    const problem = assertOneProblem(problems, { path: 'training.optimizer.name' });
    assert.match(problem.message, /unknown optimizer "rmsprop"; expected one of: adam, sgd/);
  });

  it('temperatures empty', () => {
    const problems = problemsFor({ ...minimal, temperatures: [] });
    assertOneProblem(problems, { path: 'temperatures', expected: 'a non-empty list of numbers > 0', found: '[]' });
  });

  it('temperature 0', () => {
    const problems = problemsFor({ ...minimal, temperatures: [1, 0] });
    assertOneProblem(problems, { path: 'temperatures[1]', expected: 'a number > 0', found: '0' });
  });

  it('a missing required key is found as "nothing"', () => {
    const { temperatures: _, ...noTemperatures } = minimal;
    const problems = problemsFor(noTemperatures);
    assertOneProblem(problems, {
      message: 'configs/x.json: temperatures: expected a non-empty list of numbers > 0, found nothing',
    });
  });

  it('lossTemperature "foo"', () => {
    const problems = problemsFor({ ...minimal, attacks: [{ name: 'pgd', eps: 0.3, lossTemperature: 'foo' }] });
    assertOneProblem(problems, { path: 'attacks[0].lossTemperature', expected: 'a number > 0 or "train"', found: '"foo"' });
  });

  it('batchSize 1.5', () => {
    const problems = problemsFor({ ...minimal, training: { batchSize: 1.5 } });
    assertOneProblem(problems, { path: 'training.batchSize', expected: 'an integer > 0', found: '1.5' });
  });

  it('a name that cannot name a folder', () => {
    const problems = problemsFor({ ...minimal, name: 'my sweep' });
    assertOneProblem(problems, { path: 'name', found: '"my sweep"' });
    assert.match(problems[0]!.expected, /letters, digits/);
  });

  it('duplicate temperatures', () => {
    const problems = problemsFor({ ...minimal, temperatures: [1, 5, 1] });
    const problem = assertOneProblem(problems, { path: 'temperatures[2]', found: '1' });
    assert.match(problem.message, /temperatures\[2\]: duplicate temperature 1 \(also at temperatures\[0\]\)/);
  });

  it('duplicate seeds and duplicate eps', () => {
    const problems = problemsFor({ ...minimal, seeds: [0, 0], attacks: [{ name: 'fgsm', eps: [0.1, 0.1] }] });
    assert.deepEqual(problems.map((p) => p.path), ['seeds[1]', 'attacks[0].eps[1]']);
  });

  it('JSONC syntax error, with line and column', () => {
    const text = '{\n  "name": "x",\n  "datasets": ["mnist"]\n  "architectures": ["mlp"]\n}\n';
    const problems = problemsOf(() => parseConfigText(text, 'configs/x.jsonc', { names }));
    assertOneProblem(problems, {
      file: 'configs/x.jsonc',
      line: 4,
      column: 3,
      expected: 'a comma',
      found: '"architectures"',
      message: 'configs/x.jsonc:4:3: syntax error: expected a comma, found "architectures"',
    });
  });

  it('YAML syntax error, with line', () => {
    const text = 'name: x\ndatasets: [mnist]\n  architectures: [mlp]\ntemperatures: [1]\n';
    const problems = problemsOf(() => parseConfigText(text, 'configs/x.yaml', { names }));
    const problem = assertOneProblem(problems, { file: 'configs/x.yaml', line: 3, expected: 'valid YAML' });
    assert.match(problem.message, /^configs\/x\.yaml:3:\d+: YAML syntax error: /);
  });

  it('YAML key with no space after its colon ({name:autoattack}) says so, with line and the fix', () => {
    const text = 'name: x\ndatasets: [mnist]\narchitectures: [mlp]\ntemperatures: [1]\nattacks:\n  - {name:autoattack, eps: 0.1}\n';
    const problem = assertOneProblem(problemsOf(() => parseConfigText(text, 'configs/x.yaml', { names })), { file: 'configs/x.yaml', line: 6, expected: 'a space after the colon' });
    assert.equal(problem.message, 'configs/x.yaml:6:6: "name:autoattack" has no space after its colon, so YAML reads it as one key with no value; write "name: autoattack"');
    // A URL-like value or a key with a value is left alone.
    assert.doesNotThrow(() => parseConfigText('name: x\ndescription: see a:b\ndatasets: [mnist]\narchitectures: [mlp]\ntemperatures: [1]\n', 'configs/x.yaml', { names }));
  });

  it("an attack's samples above eval.samples is an error naming the field; zero or a fraction is one too", () => {
    const base = (attack: string, evalPart = '"eval": {"samples": 100}') =>
      `{"name": "x", "datasets": ["mnist"], "architectures": ["mlp"], "temperatures": [1], "attacks": [{"name": "fgsm", "eps": 0.1}, ${attack}], ${evalPart}}`;
    const above = assertOneProblem(problemsOf(() => parseConfigText(base('{"name": "autoattack", "eps": 0.1, "samples": 200}'), 'configs/x.json', { names })), { path: 'attacks[1].samples', found: '200' });
    assert.match(above.message, /expected at most eval\.samples \(100\)/);
    const swept = base('{"name": "fgsm", "eps": 0.3, "samples": 200}', '"eval": {"samples": 1000}, "sweep": {"eval.samples": [100, 1000]}');
    assertOneProblem(problemsOf(() => parseConfigText(swept, 'configs/x.json', { names })), { path: 'attacks[1].samples', found: '200' });
    for (const bad of ['0', '-5', '2.5']) assert.ok(problemsOf(() => parseConfigText(base(`{"name": "fgsm", "eps": 0.3, "samples": ${bad}}`), 'configs/x.json', { names })).some((p) => p.path === 'attacks[1].samples'), bad);
    assert.doesNotThrow(() => parseConfigText(base('{"name": "autoattack", "eps": 0.1, "samples": 100}'), 'configs/x.json', { names }));
  });

  it('missing file, naming it', () => {
    const file = join(tempDir(), 'absent.json');
    const problem = assertOneProblem(problemsOf(() => loadConfig(file, { names })), { file, found: 'no such file' });
    assert.ok(problem.message.startsWith(`${file}: expected a readable config file, found no such file`));
  });

  it('an unsupported extension', () => {
    const problems = problemsOf(() => parseConfigText('name = "x"', 'configs/x.toml', { names }));
    assertOneProblem(problems, { expected: 'a .json, .jsonc, .yaml or .yml file', found: '".toml"' });
  });

  it('bad --set (no "=")', () => {
    const problems = problemsFor(minimal, ['training.epochs']);
    assertOneProblem(problems, { file: FILE, path: '--set', found: '"training.epochs"' });
    assert.match(problems[0]!.expected, /key=value/);
  });

  it('--set of a key the schema lacks is an unknown key, traced to the --set, with the --set to type instead', () => {
    const problems = problemsFor(minimal, ['training.epoch=1']);
    const problem = assertOneProblem(problems, { path: 'training.epoch' });
    assert.match(problem.message, /unknown key "epoch"; .*; from --set training.epoch=1; use --set training.epochs=1$/);
  });

  it('--set of a key at the wrong level names the path where the schema has it', () => {
    assert.match(assertOneProblem(problemsFor(minimal, ['epochs=1']), { path: 'epochs' }).message, /from --set epochs=1; use --set training.epochs=1$/);
    assert.match(assertOneProblem(problemsFor(minimal, ['optimizer.lr=0.01']), { path: 'optimizer' }).message, /use --set training.optimizer.lr=0.01$/);
    const both = assertOneProblem(problemsFor(minimal, ['batchSize=32']), { path: 'batchSize' });
    assert.match(both.message, /use --set training.batchSize=32 or --set eval.batchSize=32$/);
    // The sweep's list of temperatures, in brackets, not a transfer source's single temperature.
    assert.match(assertOneProblem(problemsFor(minimal, ['temperature=3']), { path: 'temperature' }).message, /use --set 'temperatures=\[3\]'$/);
  });

  it('--set of a list without brackets suggests them, quoted for the shell', () => {
    const problem = assertOneProblem(problemsFor(minimal, ['temperatures=1,5']), { path: 'temperatures', found: '"1,5"' });
    assert.match(problem.message, /from --set temperatures=1,5; use --set 'temperatures=\[1,5\]'$/);
    const eps = problemsFor({ ...minimal, attacks: [{ name: 'fgsm', eps: 0.1 }] }, ['attacks[0].eps=0.1 0.3']);
    assert.match(assertOneProblem(eps, { path: 'attacks[0].eps' }).message, /use --set 'attacks\[0\]\.eps=\[0.1,0.3\]'$/);
  });

  it('a key at the wrong level in a config file names the path where it belongs', () => {
    const problem = assertOneProblem(problemsFor({ ...minimal, epochs: 2 }), { path: 'epochs' });
    assert.match(problem.message, /unknown key "epochs"; expected one of: .*; did you mean training\.epochs\?$/);
  });

  it('a --set path into a list works, and its value is read as YAML', () => {
    const attacks = [{ name: 'fgsm', eps: 0.1 }, { name: 'pgd', eps: 0.3, steps: 40 }];
    const text = JSON.stringify({ ...minimal, attacks });
    const config = parseConfigText(text, FILE, { names, overrides: ['attacks[1].steps=100', 'temperatures=[1, 100]', 'attacks[0].eps=[0.1,0.3]'] });
    assert.equal((config.attacks[1] as { steps: number }).steps, 100);
    assert.deepEqual(config.temperatures, [1, 100]);
    assert.deepEqual(config.attacks[0]!.eps, [0.1, 0.3]);
  });

  it('--set of a list index past the end', () => {
    const problems = problemsFor({ ...minimal, attacks: [{ name: 'fgsm', eps: 0.1 }] }, ['attacks[3].eps=0.2']);
    assertOneProblem(problems, { path: '--set', expected: 'an index from 0 to 1 (1 appends)', found: '3' });
  });

  it('every problem is reported at once, one per line', () => {
    const config = { ...minimal, datasets: ['cifar'], temperatures: [0], training: { epochs: -1 }, extra: true };
    const problems = problemsFor(config);
    assert.deepEqual(problems.map((p) => p.path).sort(), ['datasets[0]', 'extra', 'temperatures[0]', 'training.epochs']);
  });
});

describe('a sweep axis is checked against the schema, value by value', () => {
  const sweep = (axes: Record<string, unknown>, parts: Record<string, unknown> = {}) => ({ ...minimal, ...parts, sweep: axes });

  it('loads a valid sweep; a setting the sweep also sets is fine, and one the sweep needs may be absent', () => {
    const config = parseConfigText(JSON.stringify(sweep({ 'training.labelSmoothing': [0, 0.1], 'training.adversarial.eps': [0.1, 0.3] }, { training: { labelSmoothing: 0.5 } })), FILE, { names });
    assert.deepEqual(config.sweep, { 'training.labelSmoothing': [0, 0.1], 'training.adversarial.eps': [0.1, 0.3] });
  });

  it('a value the setting does not take, naming its place in the sweep', () => {
    const problem = assertOneProblem(problemsFor(sweep({ 'training.labelSmoothing': [0, 'x'] })), { path: 'sweep["training.labelSmoothing"][1]', found: '"x"' });
    assert.equal(problem.message, `${FILE}: sweep["training.labelSmoothing"][1]: expected a number in [0, 1), found "x"`);
    const unit = assertOneProblem(problemsFor(sweep({ 'training.adversarial.eps': [8] })), { path: 'sweep["training.adversarial.eps"][0]' });
    assert.match(unit.message, /did you mean 8\/255 = 0.0314\?$/, 'the checks beyond the schema apply too');
  });

  it('an unknown key, with the close matches', () => {
    const typo = assertOneProblem(problemsFor(sweep({ 'training.labelSmothing': [0] })), { path: 'sweep["training.labelSmothing"]' });
    assert.match(typo.message, /unknown key "training.labelSmothing"; expected a setting under training, data or eval; did you mean "training.labelSmoothing"\?$/);
    const short = assertOneProblem(problemsFor(sweep({ lr: [0.1] })), { path: 'sweep.lr' });
    assert.match(short.message, /did you mean "training.optimizer.lr"\?$/);
  });

  it('a group of settings, a grid axis or a key outside training, data and eval says which keys are allowed', () => {
    const group = assertOneProblem(problemsFor(sweep({ 'training.optimizer': [{ lr: 0.1 }] })), { path: 'sweep["training.optimizer"]' });
    assert.match(group.message, /training.optimizer is a group of settings; sweep one of them: training.optimizer.lr, .*training.optimizer.weightDecay$/);
    assert.match(assertOneProblem(problemsFor(sweep({ seeds: [[0, 1]] })), { path: 'sweep.seeds' }).message, /seeds is an axis of the grid already/);
    const outside = assertOneProblem(problemsFor(sweep({ 'attacks[0].steps': [10] })), { path: 'sweep["attacks[0].steps"]' });
    assert.match(outside.message, /cannot be a sweep axis; expected a setting under training, data or eval \(training.adversarial.attack, .*eval.samples\)$/);
  });

  it('an empty list, or a value that is not a list', () => {
    assertOneProblem(problemsFor(sweep({ 'training.epochs': [] })), { path: 'sweep["training.epochs"]', expected: 'a non-empty list of values', found: '[]' });
    assertOneProblem(problemsFor(sweep({ 'training.epochs': 3 })), { path: 'sweep["training.epochs"]', found: '3' });
  });

  it('every combination is checked as a whole config: a sweep of a setting that needs another', () => {
    // Adversarial training needs its eps: sweeping only the ratio, with no adversarial training configured, cannot work.
    const problem = assertOneProblem(problemsFor(sweep({ 'training.adversarial.ratio': [0.5, 1] })), { path: 'training.adversarial.eps' });
    assert.match(problem.message, /expected a number > 0, found nothing$/);
  });

  it('--set sets an axis: everything after "sweep." is its key, or the whole sweep as JSON', () => {
    const byKey = parseConfigText(JSON.stringify(minimal), FILE, { names, overrides: ['sweep.training.labelSmoothing=[0,0.1]', 'sweep.data.trainSamples=[100, 200]'] });
    assert.deepEqual(byKey.sweep, { 'training.labelSmoothing': [0, 0.1], 'data.trainSamples': [100, 200] });
    const whole = parseConfigText(JSON.stringify(minimal), FILE, { names, overrides: ['sweep={"training.labelSmoothing": [0, 0.1]}'] });
    assert.deepEqual(whole.sweep, { 'training.labelSmoothing': [0, 0.1] });
  });

  it('a --set of a bad axis is traced to it, with the --set to type instead', () => {
    const typo = assertOneProblem(problemsFor(minimal, ['sweep.training.labelSmothing=[0,0.1]']), { path: 'sweep["training.labelSmothing"]' });
    assert.match(typo.message, /from --set sweep.training.labelSmothing=\[0,0.1\]; use --set 'sweep.training.labelSmoothing=\[0,0.1\]'$/);
    const bare = assertOneProblem(problemsFor(minimal, ['sweep.training.labelSmoothing=0,0.1']), { path: 'sweep["training.labelSmoothing"]' });
    assert.match(bare.message, /use --set 'sweep.training.labelSmoothing=\[0,0.1\]'$/);
    const value = assertOneProblem(problemsFor(minimal, ['sweep.training.epochs=[1,0]']), { path: 'sweep["training.epochs"][1]' });
    assert.match(value.message, /expected an integer > 0, found 0; from --set sweep.training.epochs=\[1,0\]$/);
  });
});

describe('a valid config loads into typed objects with defaults', () => {
  it('accepts JSON with comments and trailing commas (the SPEC example)', () => {
    const config = parseConfigText(QUICKSTART_JSONC, 'configs/quickstart.jsonc', { names });
    assert.equal(config.name, 'quickstart');
    assert.deepEqual(config.temperatures, [0.5, 1, 5, 30, 100]);
    assert.equal(config.attacks.length, 3);
  });

  it('YAML gives the identical object', () => {
    const fromJson = parseConfigText(QUICKSTART_JSONC, 'configs/quickstart.json', { names });
    const fromYaml = parseConfigText(QUICKSTART_YAML, 'configs/quickstart.yaml', { names });
    assert.deepEqual(fromYaml, fromJson);
  });

  it('loads .jsonc and .yml files from disk', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'q.jsonc'), QUICKSTART_JSONC);
    writeFileSync(join(dir, 'q.yml'), QUICKSTART_YAML);
    assert.deepEqual(loadConfig(join(dir, 'q.yml'), { names }), loadConfig(join(dir, 'q.jsonc'), { names }));
  });

  it('applies the defaults of the schema', () => {
    const config = parseConfigText(
      JSON.stringify({ ...minimal, attacks: [{ name: 'fgsm', eps: 0.1 }, { name: 'pgd', eps: [0.1, 0.3] }] }),
      FILE,
      { names },
    );
    assert.deepEqual(config.seeds, [0]);
    assert.deepEqual(config.training, {
      epochs: 3,
      batchSize: 128,
      shuffle: true,
      optimizer: { name: 'adam', lr: 0.001, momentum: 0.9, nesterov: false, weightDecay: 0 },
      schedule: { name: 'constant', milestones: [], gamma: 0.1, warmupEpochs: 0 },
      labelSmoothing: 0,
      checkpoint: true,
    });
    assert.deepEqual(config.eval, { samples: 1000, batchSize: 250 });
    assert.deepEqual(config.data, { augment: { randomCrop: 0, horizontalFlip: false } });
    assert.deepEqual(config.attacks, [
      { name: 'fgsm', eps: [0.1], loss: 'ce', lossTemperature: 1 },
      { name: 'pgd', eps: [0.1, 0.3], loss: 'ce', lossTemperature: 1, steps: 40, stepSize: 0.01, randomStart: true, restarts: 1, target: 'none' },
    ]);
  });

  it('allows "$schema" and lossTemperature "train"', () => {
    const text = JSON.stringify({
      $schema: '../schema/temper.schema.json',
      ...minimal,
      attacks: [{ name: 'pgd', eps: 0.3, lossTemperature: 'train' }],
    });
    assert.equal((parseConfigText(text, FILE, { names }).attacks[0] as PgdConfig).lossTemperature, 'train');
  });

  it('--set overrides numbers, lists, list entries, strings and booleans', () => {
    const overrides = ['training.epochs=1', 'temperatures=[1,5]', 'attacks[0].eps=0.2', 'name=foo', 'training.shuffle=false'];
    const config = parseConfigText(QUICKSTART_JSONC, 'configs/quickstart.jsonc', { names, overrides });
    assert.equal(config.training.epochs, 1);
    assert.deepEqual(config.temperatures, [1, 5]);
    assert.deepEqual(config.attacks[0]!.eps, [0.2]);
    assert.equal(config.name, 'foo');
    assert.equal(config.training.shuffle, false);
  });

  it('--set creates missing sections and appends to lists', () => {
    const overrides = ['data.trainSamples=500', 'attacks[0]={name: pgd, eps: 0.3, loss: cw}'];
    const config = parseConfigText(JSON.stringify(minimal), FILE, { names, overrides });
    assert.equal(config.data.trainSamples, 500);
    assert.equal((config.attacks[0] as PgdConfig).loss, 'cw');
  });
});

describe('the published JSON Schema', () => {
  it('describes the config: datasets, temperatures and attacks, with defaulted keys optional', () => {
    const dir = tempDir();
    const file = join(dir, 'schema', 'temper.schema.json');
    assert.equal(writeJsonSchema(file), true);
    const schema = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(schema.type, 'object');
    assert.equal(typeof schema.$id, 'string');
    assert.equal(typeof schema.title, 'string');
    for (const key of ['$schema', 'datasets', 'temperatures', 'attacks']) assert.ok(key in schema.properties, key);
    assert.deepEqual(schema.required, ['name', 'datasets', 'architectures', 'temperatures']);
    assert.deepEqual(schema, buildJsonSchema());
  });

  it('is rewritten only when its content changes', () => {
    const file = join(tempDir(), 'temper.schema.json');
    assert.equal(writeJsonSchema(file), true);
    assert.equal(writeJsonSchema(file), false);
    writeFileSync(file, '{}\n');
    assert.equal(writeJsonSchema(file), true);
  });

  it('the published file offers the registered dataset and architecture names for completion', () => {
    const schema = JSON.parse(readFileSync(join(projectRoot(), 'schema', 'temper.schema.json'), 'utf8'));
    assert.ok(schema.properties.datasets.items.enum.includes('mnist'));
    assert.ok(schema.properties.architectures.items.enum.includes('cnn-small'));
  });

  it('is written under the project root, wherever the compiled script lives', () => {
    const root = projectRoot();
    assert.equal(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).name, 'temper');
  });
});

describe('values that can only be a unit mistake', () => {
  const shapes = { ...names, imageShapes: { mnist: [28, 28, 1] as [number, number, number], synthetic: [12, 12, 1] as [number, number, number] } };
  /** The problems of the config, none when it loads. */
  const problemsWith = (config: Record<string, unknown>): ConfigProblem[] => {
    try {
      parseConfigText(JSON.stringify({ ...minimal, ...config }), FILE, { names: shapes });
      return [];
    } catch {
      return problemsOf(() => parseConfigText(JSON.stringify({ ...minimal, ...config }), FILE, { names: shapes }));
    }
  };
  const paths = (problems: ConfigProblem[]) => problems.map((p) => p.path);

  it('an Linf eps above 1 is an error naming the field and suggesting eps / 255', () => {
    const [problem] = problemsWith({ attacks: [{ name: 'fgsm', eps: 0.1 }, { name: 'pgd', eps: 8 }] });
    assertOneProblem([problem!], { path: 'attacks[1].eps', found: '8' });
    assert.match(problem!.message, /^configs\/x\.json: attacks\[1\]\.eps: expected an eps of at most 1 \(Linf in pixel units; images are in \[0, 1\]\), found 8; did you mean 8\/255 = 0\.0314\?$/);
    // In a list, the entry; every Linf attack and the attacks inside transfer and autoattack.
    assert.deepEqual(paths(problemsWith({ attacks: [{ name: 'fgsm', eps: [0.1, 16] }] })), ['attacks[0].eps[1]']);
    assert.deepEqual(paths(problemsWith({ attacks: [{ name: 'square', eps: 4 }, { name: 'autoattack', eps: [2] }, { name: 'apgd', eps: 1.5 }] })), [
      'attacks[0].eps',
      'attacks[1].eps[0]',
      'attacks[2].eps',
    ]);
    // 1 itself is a (large) budget, not a typo.
    assert.deepEqual(problemsWith({ attacks: [{ name: 'pgd', eps: [0, 0.5, 1] }] }), []);
  });

  it('an L2 eps above the largest distance between two of the dataset\'s images is an error', () => {
    // sqrt(28 * 28 * 1) = 28 on mnist; with synthetic in the grid too, sqrt(12 * 12) = 12 bounds it.
    assert.deepEqual(problemsWith({ attacks: [{ name: 'pgd-l2', eps: [0.5, 28] }, { name: 'cw-l2', eps: 3 }] }), []);
    const [problem] = problemsWith({ attacks: [{ name: 'pgd-l2', eps: [0.5, 128] }] });
    assertOneProblem([problem!], { path: 'attacks[0].eps[1]', found: '128' });
    assert.match(problem!.message, /at most 28 \(L2 in pixel units; no two mnist images are further apart than sqrt\(28\*28\*1\) = 28\), found 128; did you mean 128\/255 = 0\.502\?/);
    assert.deepEqual(paths(problemsWith({ datasets: ['mnist', 'synthetic'], attacks: [{ name: 'cw-l2', eps: 20 }] })), ['attacks[0].eps']);
    // A transfer attack's eps is in the norm of the attack it runs on the surrogate.
    const transfer = { name: 'transfer', eps: 20, source: { architecture: 'mlp', temperature: 1 }, attack: { name: 'pgd-l2' } };
    assert.deepEqual(problemsWith({ attacks: [transfer] }), []);
    assert.deepEqual(paths(problemsWith({ attacks: [{ ...transfer, attack: { name: 'pgd' } }] })), ['attacks[0].eps']);
  });

  it('an Linf step size above 1 is an error, inside transfer and autoattack too', () => {
    const problems = problemsWith({
      attacks: [
        { name: 'pgd', eps: 0.3, stepSize: 2 },
        { name: 'bim', eps: 0.3, stepSize: 0.01 },
        { name: 'mifgsm', eps: 0.3, stepSize: 1.5 },
        { name: 'autoattack', eps: 0.3, attacks: [{ name: 'pgd', stepSize: 3 }] },
        { name: 'transfer', eps: 0.3, source: { architecture: 'mlp', temperature: 1 }, attack: { name: 'bim', stepSize: 4 } },
      ],
    });
    assert.deepEqual(paths(problems), ['attacks[0].stepSize', 'attacks[2].stepSize', 'attacks[3].attacks[0].stepSize', 'attacks[4].attack.stepSize']);
    assert.match(problems[0]!.message, /expected a step size of at most 1 .*found 2; did you mean 2\/255 = 0\.00784\?/);
  });

  it('adversarial training with an eps or step size above 1 is an error', () => {
    const problems = problemsWith({ training: { adversarial: { eps: 8, stepSize: 2 } } });
    assert.deepEqual(paths(problems), ['training.adversarial.eps', 'training.adversarial.stepSize']);
    assert.match(problems[0]!.message, /did you mean 8\/255 = 0\.0314\?/);
    assert.deepEqual(problemsWith({ training: { adversarial: { eps: 0.3 } } }), []);
  });

  it('the schema already rejects the other impossible values, naming each field', () => {
    const problems = problemsWith({
      temperatures: [0, -1],
      attacks: [{ name: 'pgd', eps: -0.1, lossTemperature: 0 }],
      training: { labelSmoothing: 1, optimizer: { lr: 0 } },
      eval: { samples: -5 },
    });
    assert.deepEqual(paths(problems).sort(), [
      'attacks[0].eps',
      'attacks[0].lossTemperature',
      'eval.samples',
      'temperatures[0]',
      'temperatures[1]',
      'training.labelSmoothing',
      'training.optimizer.lr',
    ]);
  });

  it('a value a --set put there is reported with that --set', () => {
    const problems = problemsOf(() => parseConfigText(JSON.stringify({ ...minimal, attacks: [{ name: 'pgd', eps: 0.3 }] }), FILE, { names: shapes, overrides: ['attacks[0].eps=8'] }));
    assert.match(problems[0]!.message, /attacks\[0\]\.eps: .*found 8; did you mean 8\/255 = 0\.0314\?; from --set attacks\[0\]\.eps=8$/);
  });
});

describe('budgets too small to reach eps', () => {
  it('are warnings, not errors: steps * stepSize < eps for fixed-step attacks, inside ensembles and transfer too', () => {
    const config = parseConfigText(
      JSON.stringify({
        ...minimal,
        attacks: [
          { name: 'pgd', eps: [0.1, 0.3], steps: 5, stepSize: 0.01 },
          { name: 'pgd', eps: 0.3, steps: 30, stepSize: 0.01 },
          { name: 'bim', eps: 0.3, steps: 3 },
          { name: 'autoattack', eps: 0.3, attacks: [{ name: 'mifgsm', steps: 2, stepSize: 0.1 }] },
          { name: 'transfer', eps: 2, source: { architecture: 'mlp', temperature: 1 }, attack: { name: 'pgd-l2', steps: 10, stepSize: 0.1 } },
        ],
      }),
      FILE,
      { names },
    );
    assert.deepEqual(shortBudgets(config), [
      'attacks[0]: 5 steps of 0.01 move at most 0.05, less than eps 0.1, 0.3; such a row measures the budget, not the model (use steps * stepSize >= eps)',
      'attacks[3].attacks[0]: 2 steps of 0.1 move at most 0.2, less than eps 0.3; such a row measures the budget, not the model (use steps * stepSize >= eps)',
      'attacks[4].attack: 10 steps of 0.1 move at most 1, less than eps 2; such a row measures the budget, not the model (use steps * stepSize >= eps)',
    ]);
  });
});
