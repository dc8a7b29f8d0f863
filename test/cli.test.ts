import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join, resolve } from 'node:path';
import { tempDir } from './helpers.js';

const root = resolve(import.meta.dirname, '..', '..');
const temper = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, 'bin', 'temper.js'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: 'true' } });

function writeConfig(text: string, name = 'config.jsonc'): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

const tiny = {
  name: 'cli',
  datasets: ['synthetic'],
  architectures: ['mlp'],
  temperatures: [1],
  training: { epochs: 1, batchSize: 64 },
  attacks: [{ name: 'fgsm', eps: 0.1 }],
  eval: { samples: 64 },
};

describe('the command line', () => {
  it('--help lists the commands', () => {
    const result = temper('--help');
    assert.equal(result.status, 0);
    for (const command of ['run', 'validate', 'data', 'doctor']) assert.match(result.stdout, new RegExp(`temper ${command}`));
  });

  it('an unknown command or flag exits 2', () => {
    assert.equal(temper('frobnicate').status, 2);
    assert.equal(temper('validate', 'configs/quickstart.json', '--bogus').status, 2);
  });

  it('validate accepts the quickstart config and counts its grid', () => {
    const result = temper('validate', 'configs/quickstart.json');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /ok — 5 jobs/);
    assert.match(result.stdout, /^attack cost: at most 168 forward passes per image \(a gradient counts 2\) x 1,000 images = 168,000 per trained model, 840,000 for the 5 models$/m);
    assert.match(result.stdout, /^ {2}pgd40-cw {7}81$/m);
  });

  it('validate lists every error with file and path, and exits 2', () => {
    const path = writeConfig(JSON.stringify({ ...tiny, temperatures: [0], attacks: [{ name: 'fgsm', eps: -1 }] }));
    const result = temper('validate', path);
    assert.equal(result.status, 2);
    assert.match(result.stderr, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: temperatures\\[0\\]`));
    assert.match(result.stderr, /attacks\[0\]\.eps/);
  });

  it('validate rejects a budget that can only be a unit mistake, naming the field and the pixel value, and exits 2', () => {
    const path = writeConfig(JSON.stringify({ ...tiny, attacks: [{ name: 'fgsm', eps: 0.1 }, { name: 'pgd', eps: 8, stepSize: 2 }] }));
    const result = temper('validate', path);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /attacks\[1\]\.eps: expected an eps of at most 1 .*found 8; did you mean 8\/255 = 0\.0314\?/);
    assert.match(result.stderr, /attacks\[1\]\.stepSize: expected a step size of at most 1 .*found 2/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });

  it('run with an eps of 8 writes nothing and exits 2', () => {
    const out = join(tempDir(), 'out');
    const path = writeConfig(JSON.stringify({ ...tiny, training: { ...tiny.training, adversarial: { eps: 8 } } }));
    const result = temper('run', path, '--out', out, '--backend', 'wasm');
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /training\.adversarial\.eps: .*found 8; did you mean 8\/255 = 0\.0314\?/);
    assert.equal(existsSync(out), false);
  });

  it('run with a bad config writes nothing and exits 2', () => {
    const out = join(tempDir(), 'out');
    const path = writeConfig(JSON.stringify({ ...tiny, datasets: ['nope'] }));
    const result = temper('run', path, '--out', out, '--backend', 'wasm');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /unknown dataset "nope"; expected one of: .*mnist.*synthetic/);
    assert.equal(existsSync(out), false);
  });

  it('run writes the outputs, prints a summary, and --json prints machine-readable results', () => {
    const out = join(tempDir(), 'out');
    const path = writeConfig(JSON.stringify(tiny));
    const result = temper('run', path, '--out', out, '--backend', 'wasm', '--json');
    assert.equal(result.status, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.ok, 1);
    assert.equal(summary.backend, 'wasm');
    assert.ok(existsSync(join(out, 'runs.csv')));
    assert.ok(existsSync(join(out, 'tables', 'synthetic__mlp.csv')));
    const again = temper('run', path, '--out', out, '--backend', 'wasm', '--set', 'training.epochs=1');
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /1 skipped as already done/);
    assert.match(again.stdout, /synthetic \/ mlp/);
  });

  it('run with a missing dataset file names the file and the fetch command, writes nothing and exits 2', () => {
    const out = join(tempDir(), 'out');
    const dataDir = tempDir();
    const path = writeConfig(JSON.stringify({ ...tiny, datasets: ['cifar10'] }));
    const result = temper('run', path, '--out', out, '--backend', 'wasm', '--data-dir', dataDir);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /cifar-10-binary\.tar\.gz not found in .*temper data fetch cifar10 --data-dir/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(out), false);
  });

  it('run with corruptions from files that are not there says which, writes nothing and exits 2', () => {
    const out = join(tempDir(), 'out');
    const path = writeConfig(JSON.stringify({ ...tiny, corruptions: { types: ['contrast'], source: 'files' } }));
    const result = temper('run', path, '--out', out, '--backend', 'wasm', '--data-dir', tempDir());
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /corruptions for synthetic: published corruption files exist only for cifar10, cifar100, cifar100-coarse/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(out), false);
  });

  it('run exits 1 when a job fails, after writing the others', () => {
    const out = join(tempDir(), 'out');
    const path = writeConfig(JSON.stringify({ ...tiny, temperatures: [1, 1e-45] }));
    const result = temper('run', path, '--out', out, '--backend', 'wasm');
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /^2 jobs in the grid; attack cost: at most 3 forward passes per image \(a gradient counts 2\) x 64 images = 192 per trained model, 384 for the 2 models$/m);
    assert.match(result.stderr, /FAILED: training loss became NaN/);
    assert.equal(readFileSync(join(out, 'runs.csv'), 'utf8').trim().split('\n').length, 1 + 2 * 2);
  });

  it('a YAML config runs like its JSON twin', () => {
    const path = writeConfig('name: yaml\ndatasets: [synthetic]\narchitectures: [mlp]\ntemperatures: [1]\n', 'c.yaml');
    const result = temper('validate', path);
    assert.equal(result.status, 0, result.stderr);
  });

  it('data list shows the embedded MNIST as present', () => {
    const result = temper('data', 'list');
    assert.equal(result.status, 0);
    assert.match(result.stdout, /mnist\s+present/);
    assert.match(result.stdout, /synthetic\s+present/);
  });

  it('a reader that closes stdout early (| head) ends the command quietly', async () => {
    const child = spawn(process.execPath, [join(root, 'bin', 'temper.js'), 'data', 'list'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
  });

  it('doctor shows the backends that load, in columns sized to their content, and no source path of Dawn', () => {
    const result = temper('doctor');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /ok\s+wasm/);
    assert.match(result.stdout, /no\s+tensorflow/);
    // Dawn's own messages (e.g. "Couldn't load Vulkan ... BackendVk.cpp:368") are translated, never shown as they are.
    assert.doesNotMatch(result.stdout + result.stderr, /\.cpp:\d+|Couldn't load Vulkan/);
    // A tfjs-node installed without its native addon is reported, not imported (which warned once per kernel).
    assert.doesNotMatch(result.stderr, /is already registered/);
    const datasets = result.stdout.split('\n').slice(result.stdout.split('\n').findIndex((line) => line.startsWith('datasets'))+ 1).filter(Boolean);
    assert.ok(datasets.length >= 8, result.stdout);
    // Every row's third column (where the data comes from) starts at the same place, however long the name.
    const sourceAt = datasets.map((line) => /^\s+(ok|no)\s+\S+\s+/.exec(line)![0].length);
    assert.equal(new Set(sourceAt).size, 1, datasets.join('\n'));
    assert.ok(datasets.some((line) => /cifar100-coarse {2}\S/.test(line)), 'the longest name is followed by two spaces');
  });

  it('SIGINT stops after saving finished runs, exits 130, and the same command resumes without duplicates', async () => {
    const out = join(tempDir(), 'out');
    const temperatures = [1, 2, 3, 4, 5, 6, 7, 8];
    const path = writeConfig(JSON.stringify({ ...tiny, architectures: ['cnn-small'], temperatures, training: { epochs: 4, batchSize: 32 } }));
    const args = [join(root, 'bin', 'temper.js'), 'run', path, '--out', out, '--backend', 'wasm'];
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const records = () => (existsSync(join(out, 'runs')) ? readdirSync(join(out, 'runs')).filter((f) => f.endsWith('.json')).length : 0);
    while (records() === 0) await sleep(50);
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /resume with the same command/);
    const saved = records();
    assert.ok(saved >= 1 && saved < temperatures.length, `${saved} runs saved`);

    const resumed = temper('run', path, '--out', out, '--backend', 'wasm');
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`${saved} skipped as already done`));
    const rows = readFileSync(join(out, 'runs.csv'), 'utf8').trim().split('\n').slice(1);
    assert.equal(rows.length, temperatures.length * 2, 'one clean and one fgsm row per temperature');
    assert.equal(new Set(rows.map((row) => row.split(',').slice(0, 6).join(','))).size, rows.length, 'no duplicate rows');
  });
});
