import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { CLEAN_LABEL } from '../src/config/grid.js';
import { summaryText, writeReport } from '../src/report/index.js';
import { RUNS_CSV_COLUMNS, runsCsvRows, writeRunsCsv } from '../src/report/runs-csv.js';
import { formatTableText, pivotTables, writeTables } from '../src/report/tables.js';
import type { RunRecord } from '../src/types.js';
import { LABELS, record } from './fixtures.js';

function outDir(): string {
  return mkdtempSync(join(tmpdir(), 'temper-report-'));
}

/** runs.csv rows as objects keyed by column name. */
function rowsByColumn(records: RunRecord[]): Record<string, string>[] {
  return runsCsvRows(records).map((row) => Object.fromEntries(RUNS_CSV_COLUMNS.map((column, i) => [column, row[i]])));
}

test("runs.csv has the contract's columns in order", () => {
  const contract = ['dataset', 'architecture', 'temperature', 'seed', 'attack', 'eps', 'loss', 'loss_temperature', 'accuracy', 'n', 'zero_grad_fraction', 'status', 'run_id'];
  assert.deepEqual(RUNS_CSV_COLUMNS.slice(0, contract.length), contract);
  const dir = outDir();
  const path = writeRunsCsv(dir, [record({ accuracies: [0.98, 0.7, 0.2, 0.05] })]);
  assert.equal(path, join(dir, 'runs.csv'));
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  assert.equal(lines[0], RUNS_CSV_COLUMNS.join(','));
  assert.equal(lines.length, 1 + 1 + LABELS.length);
});

test('one row per run and attack@eps plus a clean row', () => {
  const rows = rowsByColumn([
    record({ seed: 0, accuracies: [0.98, 0.7, 0.2, 0.05] }),
    record({ seed: 1, accuracies: [0.97, 0.6, 0.1, 0.04] }),
  ]);
  assert.equal(rows.length, 2 * (1 + LABELS.length));
  assert.deepEqual(
    rows.map((row) => [row.seed, row.label]),
    ['0', '1'].flatMap((seed) => [CLEAN_LABEL, ...LABELS].map((label) => [seed, label])),
  );
  const [clean, fgsm, , pgd] = rows;
  assert.deepEqual(
    [clean.attack, clean.eps, clean.loss, clean.loss_temperature, clean.accuracy, clean.n, clean.zero_grad_fraction, clean.status],
    ['clean', '0', '', '', '0.98', '1000', '', 'ok'],
  );
  assert.deepEqual(
    [fgsm.attack, fgsm.eps, fgsm.loss, fgsm.loss_temperature, fgsm.accuracy, fgsm.steps, fgsm.random_start],
    ['fgsm', '0.1', 'ce', '1', '0.7', '', ''],
  );
  assert.deepEqual(
    [pgd.attack, pgd.eps, pgd.loss, pgd.accuracy, pgd.zero_grad_fraction, pgd.steps, pgd.step_size, pgd.restarts, pgd.random_start],
    ['pgd', '0.3', 'cw', '0.05', '0.25', '40', '0.01', '1', 'true'],
  );
  assert.deepEqual(
    [clean.dataset, clean.architecture, clean.temperature, clean.run_id, clean.epochs, clean.backend, clean.failure_reason],
    ['mnist', 'cnn-small', '1', 'mnist-cnn-small-t1-s0', '3', 'wasm', ''],
  );
});

test('numbers are printed without float noise', () => {
  const [clean, fgsm] = rowsByColumn([record({ accuracies: [0.1 + 0.2, 1 / 3, 0, 0] })]);
  assert.equal(clean.accuracy, '0.3');
  assert.equal(fgsm.accuracy, '0.333333');
  assert.equal(clean.final_train_loss, '0.3');
  assert.equal(clean.train_seconds, '12.346');
});

test('a failed run keeps a row per planned cell with its reason', () => {
  const rows = rowsByColumn([record({ temperature: 100, failureReason: 'loss became NaN at epoch 2, step 17' })]);
  assert.deepEqual(
    rows.map((row) => row.label),
    [CLEAN_LABEL, ...LABELS],
  );
  for (const row of rows) {
    assert.deepEqual([row.accuracy, row.n, row.status], ['', '', 'failed']);
    assert.equal(row.failure_reason, 'loss became NaN at epoch 2, step 17');
  }
  const pgd = rows[3];
  assert.deepEqual([pgd.attack, pgd.eps, pgd.loss, pgd.loss_temperature, pgd.steps], ['pgd', '0.3', 'cw', '100', '40']);
});

test('the CSV quotes fields that hold commas', () => {
  const dir = outDir();
  writeRunsCsv(dir, [record({ failureReason: 'loss became NaN at epoch 2, step 17' })]);
  assert.match(readFileSync(join(dir, 'runs.csv'), 'utf8'), /,"loss became NaN at epoch 2, step 17",/);
});

test('the pivot has one row per temperature and mean ± std over seeds', () => {
  const [table] = pivotTables([
    record({ temperature: 5, seed: 0, accuracies: [0.9, 0.5, 0.2, 0.1] }),
    record({ temperature: 5, seed: 1, accuracies: [0.8, 0.3, 0.2, 0.1] }),
    record({ temperature: 0.5, seed: 0, accuracies: [0.99, 0.6, 0.3, 0.0] }),
    record({ temperature: 0.5, seed: 1, accuracies: [0.97, 0.6, 0.1, 0.0] }),
  ]);
  assert.deepEqual(table.columns, ['temperature', 'seeds', 'clean', ...LABELS]);
  // T = 5 clean: mean (90 + 80) / 2 = 85, sample std sqrt((5² + 5²) / 1) = 7.07.
  // T = 0.5 fgsm@0.3: mean 20, std sqrt((10² + 10²) / 1) = 14.14.
  assert.deepEqual(table.rows, [
    ['0.5', '2', '98.00 ± 1.41', '60.00 ± 0.00', '20.00 ± 14.14', '0.00 ± 0.00'],
    ['5', '2', '85.00 ± 7.07', '40.00 ± 14.14', '20.00 ± 0.00', '10.00 ± 0.00'],
  ]);
});

test('a single seed shows the mean alone', () => {
  const [table] = pivotTables([record({ accuracies: [0.98123, 0.5, 0.25, 0.125] })]);
  assert.deepEqual(table.rows, [['1', '1', '98.12', '50.00', '25.00', '12.50']]);
});

test('all seeds failed shows failed', () => {
  const [table] = pivotTables([
    record({ temperature: 100, seed: 0, failureReason: 'loss became NaN' }),
    record({ temperature: 100, seed: 1, failureReason: 'loss became NaN' }),
    record({ temperature: 1, seed: 0, accuracies: [0.9, 0.5, 0.2, 0.1] }),
    record({ temperature: 1, seed: 1, failureReason: 'out of memory' }),
  ]);
  assert.deepEqual(table.rows, [
    ['1', '1/2', '90.00', '50.00', '20.00', '10.00'],
    ['100', '0/2', 'failed', 'failed', 'failed', 'failed'],
  ]);
});

test('a label absent at a temperature leaves its cell empty', () => {
  const partial = record({ temperature: 2, accuracies: [0.9, 0.5] });
  const [table] = pivotTables([record({ accuracies: [0.9, 0.5, 0.2, 0.1] }), partial]);
  assert.deepEqual(table.rows[1], ['2', '1', '90.00', '50.00', '', '']);
});

test('tables are named <dataset>__<architecture>.csv', () => {
  const dir = outDir();
  const records = [
    record({ dataset: 'mnist', architecture: 'cnn-small', accuracies: [0.9, 0.5, 0.2, 0.1] }),
    record({ dataset: 'cifar10', architecture: 'resnet18', accuracies: [0.8, 0.4, 0.2, 0.1] }),
    record({ dataset: 'mnist', architecture: 'cnn-small', seed: 1, accuracies: [0.8, 0.5, 0.2, 0.1] }),
  ];
  const paths = writeTables(dir, records);
  assert.deepEqual(
    paths.map((path) => basename(path)),
    ['mnist__cnn-small.csv', 'cifar10__resnet18.csv'],
  );
  // Numbers a script can read: fractions, mean and sample std over the two seeds, how many seeds each cell has, and the
  // 95% interval of the mean (0.85 ± 12.706205 * 0.070711 / sqrt(2), not clipped to [0, 1]).
  const numbers = ['0.85', '0.070711', '2', '0.21469', '1.48531', '0.5', '0', '2', '0.5', '0.5', '0.2', '0', '2', '0.2', '0.2', '0.1', '0', '2', '0.1', '0.1'];
  assert.deepEqual(readFileSync(paths[0], 'utf8').split('\n').slice(0, 2), [
    ['dataset', 'architecture', 'setup', 'temperature', 'seeds', 'seeds_failed', ...['clean', ...LABELS].flatMap((label) => [`${label}_mean`, `${label}_std`, `${label}_n`, `${label}_ci95_low`, `${label}_ci95_high`])]
      .map((cell) => (/[",]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell))
      .join(','),
    ['mnist', 'cnn-small', '', '1', '2', '0', ...numbers].join(','),
  ]);
});

test('writeReport writes runs.csv, every table, the summary, the plots and the page', async () => {
  const dir = outDir();
  const written = await writeReport(dir, [record({ accuracies: [0.9, 0.5, 0.2, 0.1] })]);
  assert.deepEqual(written, {
    runsCsv: join(dir, 'runs.csv'),
    tables: [join(dir, 'tables', 'mnist__cnn-small.csv')],
    summary: join(dir, 'summary.md'),
    plots: [join(dir, 'plots', 'mnist__cnn-small__accuracy-vs-temperature.svg'), join(dir, 'plots', 'mnist__cnn-small__accuracy-vs-eps.svg')],
    html: join(dir, 'index.html'),
  });
  for (const path of [written.runsCsv, ...written.tables, written.summary, ...written.plots, written.html]) assert.ok(existsSync(path), path);
});

test('the text table pads every column to one width', () => {
  const [table] = pivotTables([
    record({ temperature: 0.5, accuracies: [0.9, 0.5, 0.2, 0.1] }),
    record({ temperature: 100, accuracies: [0.8, 0.4, 0.2, 0.1] }),
  ]);
  const lines = formatTableText(table).split('\n');
  assert.equal(lines.length, 2 + 2);
  assert.equal(new Set(lines.map((line) => line.length)).size, 1);
  assert.match(lines[0], /^temperature {2}seeds {2}clean {2}/);
  assert.match(lines[3], /^ {8}100 {6}1 {2}80\.00 {2}/);
});

test('the summary heads each table and lists failed runs with their reasons', () => {
  const text = summaryText([
    record({ accuracies: [0.9, 0.5, 0.2, 0.1] }),
    record({ temperature: 100, failureReason: 'loss became NaN at epoch 2, step 17' }),
  ]);
  assert.match(text, /^mnist \/ cnn-small {2}\(accuracy %, mean ± std over seeds\)\n/);
  assert.match(text, /failed runs \(1\):\n {2}mnist-cnn-small-t100-s0 \(mnist \/ cnn-small, T=100, seed 0\): loss became NaN at epoch 2, step 17$/);
});

test('a model evaluated twice counts once: the newest measurement wins and attack columns are united', () => {
  const first = record({ accuracies: [0.9, 0.5, 0.2, 0.1], finishedAt: '2025-01-01T00:00:00.000Z' });
  const newer = record({ accuracies: [0.8, 0.4, 0.3, 0.05], finishedAt: '2025-01-02T00:00:00.000Z' });
  const rerun: RunRecord = {
    ...newer,
    runId: 'rerun-with-fewer-attacks',
    job: { ...newer.job, runId: 'rerun-with-fewer-attacks', trainingId: first.job.trainingId },
    attacks: newer.attacks.slice(0, 1),
  };
  const [table] = pivotTables([first, rerun]);
  assert.equal(table!.rows.length, 1);
  // seeds = 1 (one model), clean and the re-measured column from the rerun, the others kept from the first evaluation.
  assert.deepEqual(table!.rows[0], ['1', '1', '80.00', '40.00', '20.00', '10.00']);
  assert.equal(runsCsvRows([first, rerun]).length, 4 + 2, 'runs.csv keeps every evaluation');
});
