import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { smallConfig, temperCli, tempDir, wasmBackend, writeConfigFile } from './helpers.js';
import { ATTACKS, record } from './fixtures.js';
import { runSweep } from '../src/runner/sweep.js';
import { QuietProgress } from '../src/runner/progress.js';
import { RUNS_CSV_COLUMNS, runsCsvHeader, runsCsvRows } from '../src/report/runs-csv.js';
import { resultTables } from '../src/report/tables.js';
import { plotSpecs, summaryMarkdown, summaryModel } from '../src/report/index.js';
import { expandGrid } from '../src/config/grid.js';
import { configSchema } from '../src/config/schema.js';

const config = smallConfig({
  name: 'sweep-test',
  architectures: ['mlp', 'cnn-small'],
  temperatures: [1, 10],
  seeds: [0, 1],
  training: { epochs: 1, batchSize: 64 },
  attacks: [
    { name: 'fgsm', eps: [0.05, 0.1] },
    { name: 'pgd', eps: 0.1, steps: 3, stepSize: 0.04, loss: 'cw' },
  ],
  eval: { samples: 64, batchSize: 64 },
});

const csvLines = (path: string) => readFileSync(path, 'utf8').trim().split('\n');

describe('a sweep on synthetic, end to end', () => {
  const outDir = tempDir();
  before(wasmBackend);

  it('writes one record per job, runs.csv in the contract columns, and a pivot per model', async () => {
    const result = await runSweep(config, { outDir, backend: 'wasm', progress: new QuietProgress() });
    assert.equal(result.total, 8);
    assert.equal(result.ok, 8);
    assert.equal(readdirSync(join(outDir, 'runs')).filter((f) => f.endsWith('.json')).length, 8);

    const lines = csvLines(result.report.runsCsv);
    assert.equal(lines[0], RUNS_CSV_COLUMNS.join(','));
    assert.deepEqual(RUNS_CSV_COLUMNS.slice(0, 13), ['dataset', 'architecture', 'temperature', 'seed', 'attack', 'eps', 'loss', 'loss_temperature', 'accuracy', 'n', 'zero_grad_fraction', 'status', 'run_id']);
    // 8 runs x (clean + fgsm@0.05 + fgsm@0.1 + pgd-cw@0.1)
    assert.equal(lines.length - 1, 8 * 4);

    assert.deepEqual(readdirSync(join(outDir, 'tables')).sort(), ['synthetic__cnn-small.csv', 'synthetic__mlp.csv']);
    const table = csvLines(join(outDir, 'tables', 'synthetic__mlp.csv'));
    const cells = (label: string) => [`${label}_mean`, `${label}_std`, `${label}_n`, `${label}_ci95_low`, `${label}_ci95_high`];
    assert.equal(
      table[0],
      ['dataset', 'architecture', 'setup', 'temperature', 'seeds', 'seeds_failed', ...['clean', 'fgsm-ce(T=1)@0.05', 'fgsm-ce(T=1)@0.1', 'pgd3-cw@0.1'].flatMap(cells)].join(','),
    );
    assert.equal(table.length, 3, 'one row per temperature');
    assert.match(table[1]!, /^synthetic,mlp,,1,2,0,0?\.?\d+,0?\.?\d+,2,/);
    assert.match(table[2]!, /^synthetic,mlp,,10,2,0,/);
  });

  it('a rerun skips finished runs and duplicates nothing', async () => {
    const before = readFileSync(join(outDir, 'runs.csv'), 'utf8');
    const result = await runSweep(config, { outDir, backend: 'wasm', progress: new QuietProgress() });
    assert.equal(result.ran, 0);
    assert.equal(result.skipped, 8);
    assert.equal(readFileSync(join(outDir, 'runs.csv'), 'utf8'), before);
  });

  it('--force reruns every job and, being deterministic, writes the same numbers', async () => {
    const accuracy = (text: string) => text.split('\n').map((line) => line.split(',').slice(0, 11).join(','));
    const before = readFileSync(join(outDir, 'runs.csv'), 'utf8');
    const result = await runSweep(config, { outDir, backend: 'wasm', force: true, progress: new QuietProgress() });
    assert.equal(result.ran, 8);
    assert.deepEqual(accuracy(readFileSync(join(outDir, 'runs.csv'), 'utf8')), accuracy(before));
  });

  it('a diverging job is recorded as failed and the others still run', async () => {
    const dir = tempDir();
    const result = await runSweep(smallConfig({ name: 'nan', temperatures: [1, 1e-45] }), { outDir: dir, backend: 'wasm', progress: new QuietProgress() });
    assert.equal(result.ok, 1);
    assert.equal(result.failed, 1);
    const rows = csvLines(result.report.runsCsv).slice(1);
    assert.ok(rows.some((row) => row.includes(',failed,') && row.includes('NaN')), 'a failed row with its reason');
    assert.ok(rows.some((row) => row.includes(',ok,')));
  });
});

describe('sweep axes in the views', () => {
  // Two axes, two temperatures: four setups, each named by both settings, never averaged together.
  const sweepConfig = configSchema.parse({
    name: 'axes',
    datasets: ['mnist'],
    architectures: ['mlp'],
    temperatures: [1, 10],
    attacks: ATTACKS,
    sweep: { 'training.labelSmoothing': [0, 0.1], 'training.adversarial.eps': [0.1, 0.3] },
  });
  const records = expandGrid(sweepConfig).map((job, i) => {
    const base = record({ architecture: 'mlp', temperature: job.temperature, accuracies: [0.9, 0.5 - i / 100, 0.3, 0.1], finishedAt: `2025-01-01T00:00:${String(10 + i)}.000Z` });
    return { ...base, runId: job.runId, job };
  });
  const setups = ['0 0.1', '0 0.3', '0.1 0.1', '0.1 0.3'].map((pair) => {
    const [smoothing, eps] = pair.split(' ');
    return `training.labelSmoothing=${smoothing} training.adversarial.eps=${eps}`;
  });

  it('runs.csv has one column per axis, named by its key, after the contract columns', () => {
    assert.deepEqual(runsCsvHeader(records), [...RUNS_CSV_COLUMNS, 'training.labelSmoothing', 'training.adversarial.eps']);
    const rows = runsCsvRows(records).filter((row) => row[RUNS_CSV_COLUMNS.indexOf('attack')] === 'clean');
    assert.deepEqual(
      rows.map((row) => [row[RUNS_CSV_COLUMNS.indexOf('temperature')], ...row.slice(RUNS_CSV_COLUMNS.length), row[RUNS_CSV_COLUMNS.indexOf('setup')]]),
      records.map((r) => [String(r.job.temperature), String(r.job.training.labelSmoothing), String(r.job.training.adversarial!.eps), `training.labelSmoothing=${r.job.training.labelSmoothing} training.adversarial.eps=${r.job.training.adversarial!.eps}`]),
    );
    assert.deepEqual(runsCsvHeader([record({ accuracies: [0.9, 0.5, 0.3, 0.1] })]), [...RUNS_CSV_COLUMNS], 'no sweep, no extra column');
  });

  it('the tables, plots and summary keep the four setups apart, named by both settings', () => {
    const [table] = resultTables(records);
    assert.deepEqual(
      table!.rows.map((row) => [row.setup, row.temperature, row.seeds]),
      setups.flatMap((setup) => [[setup, 1, 1], [setup, 10, 1]]),
    );
    // Each row holds its own model's number: the fgsm@0.1 accuracy was 0.5 - i/100 for the i-th job.
    assert.deepEqual(table!.rows.map((row) => row.cells[1]!.mean), records.map((_, i) => 0.5 - i / 100));
    const plots = JSON.stringify(plotSpecs(records));
    for (const setup of setups) assert.ok(plots.includes(`[${setup}]`), `a plot series for ${setup}`);
    const summary = summaryMarkdown(summaryModel(records));
    for (const setup of setups) assert.equal(summary.match(new RegExp(`\\| +${setup.replace(/\./g, '\\.')} \\|`, 'g'))?.length, 2, `a summary row per temperature for ${setup}`);
  });
});

describe('a sweep axis on the embedded MNIST, end to end through the command line', () => {
  const config = writeConfigFile({
    name: 'mnist-axes',
    datasets: ['mnist'],
    architectures: ['mlp'],
    temperatures: [1],
    training: { epochs: 1, batchSize: 64 },
    data: { trainSamples: 256 },
    attacks: [{ name: 'fgsm', eps: 0.1 }],
    eval: { samples: 64, batchSize: 64 },
  });
  const outDir = join(tempDir(), 'out');
  const run = (values: string) => {
    const result = temperCli(['run', config, '--out', outDir, '--json', '--set', `sweep.training.labelSmoothing=${values}`]);
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as { total: number; ran: number; skipped: number };
  };

  it('validate counts the sweep combinations in the grid and the cost', () => {
    const result = temperCli(['validate', config, '--set', 'sweep.training.labelSmoothing=[0,0.1]', '--set', 'sweep.data.trainSamples=[128,256]']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /ok — 4 jobs \(1 dataset x 1 architecture x 4 sweep combinations \(2 training\.labelSmoothing x 2 data\.trainSamples\) x 1 temperature x 1 seed\)/);
    assert.match(result.stdout, /= 192 per trained model, 768 for the 4 models$/m);
  });

  it('a bad axis value exits 2 and writes nothing', () => {
    const result = temperCli(['run', config, '--out', outDir, '--set', 'sweep.training.labelSmoothing=[0,1]']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /sweep\["training\.labelSmoothing"\]\[1\]: expected a number in \[0, 1\), found 1; from --set sweep\.training\.labelSmoothing=\[0,1\]/);
    assert.equal(existsSync(outDir), false);
  });

  it('runs each value; adding a value to the axis runs only the new jobs; a rerun runs none', () => {
    assert.deepEqual(pick(run('[0]')), { total: 1, ran: 1, skipped: 0 });
    assert.deepEqual(pick(run('[0, 0.1]')), { total: 2, ran: 1, skipped: 1 });
    assert.deepEqual(pick(run('[0, 0.1]')), { total: 2, ran: 0, skipped: 2 });

    const runs = parse(readFileSync(join(outDir, 'runs.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    assert.deepEqual(Object.keys(runs[0]!).slice(-2), ['setup', 'training.labelSmoothing']);
    assert.deepEqual(
      runs.map((row) => [row.attack, row['training.labelSmoothing'], row.setup]).sort(),
      [
        ['clean', '0', 'training.labelSmoothing=0'],
        ['clean', '0.1', 'training.labelSmoothing=0.1'],
        ['fgsm', '0', 'training.labelSmoothing=0'],
        ['fgsm', '0.1', 'training.labelSmoothing=0.1'],
      ],
    );
    const table = parse(readFileSync(join(outDir, 'tables', 'mnist__mlp.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    assert.deepEqual(table.map((row) => [row.setup, row.temperature, row.seeds, row.seeds_failed]), [
      ['training.labelSmoothing=0', '1', '1', '0'],
      ['training.labelSmoothing=0.1', '1', '1', '0'],
    ]);
    assert.ok(table.every((row) => Number(row.clean_mean) > 0.2), 'trained models, better than chance');
  });

  it('status counts the jobs of each sweep combination', () => {
    const text = temperCli(['status', outDir]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /: 2 jobs: 2 done, 0 failed, 0 running, 0 pending\nby sweep combination:\n {2}training\.labelSmoothing=0 {4}1 job: 1 done, 0 failed, 0 running, 0 pending\n {2}training\.labelSmoothing=0\.1 {2}1 job: 1 done, 0 failed, 0 running, 0 pending\n$/);
    const json = JSON.parse(temperCli(['status', outDir, '--json']).stdout) as { sweep: Array<{ combination: string; total: number }> };
    assert.deepEqual(json.sweep.map(({ combination, total }) => [combination, total]), [['training.labelSmoothing=0', 1], ['training.labelSmoothing=0.1', 1]]);
  });
});

function pick({ total, ran, skipped }: { total: number; ran: number; skipped: number }) {
  return { total, ran, skipped };
}
