// tables/*.csv are numbers a script can read, the human tables show the same cells, and a folder that holds models
// of several setups (a --set rerun, a merge) keeps them apart in every view instead of averaging them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { pivotTables, resultTables, TABLE_CSV_COLUMNS, tableCsvRows, writeTables } from '../src/report/tables.js';
import { resultsSummary } from '../src/report/results.js';
import { latestPerModel, setupNamer } from '../src/report/models.js';
import { plotSpecs, summaryMarkdown, summaryModel, summaryText } from '../src/report/index.js';
import { calibrationRows, cellKey, maskedCells, maskingFindings } from '../src/report/warnings.js';
import { RUNS_CSV_COLUMNS, runsCsvRows } from '../src/report/runs-csv.js';
import type { RunRecord } from '../src/types.js';
import { LABELS, record, type Fixture } from './fixtures.js';
import { tempDir } from './helpers.js';

type Row = Record<string, string>;

const csvObjects = (records: RunRecord[]): Row[] => {
  const [table] = resultTables(records);
  return parse(tableCsvRows(table!).map((row) => row.join('\t')).join('\n'), { columns: true, delimiter: '\t' }) as Row[];
};

/** A fixture record of another setup: trained with `epochs` epochs (so another training id), or evaluated on `samples` images. */
function variant(fixture: Fixture, change: { epochs?: number; samples?: number }): RunRecord {
  const base = record(fixture);
  const runId = `${base.runId}-e${change.epochs ?? ''}-n${change.samples ?? ''}`;
  const training = { ...base.job.training, ...(change.epochs ? { epochs: change.epochs } : {}) };
  const evalSettings = { ...base.job.eval, ...(change.samples ? { samples: change.samples } : {}) };
  const trainingId = change.epochs ? `${base.job.trainingId}-e${change.epochs}` : base.job.trainingId;
  return { ...base, runId, job: { ...base.job, runId, trainingId, training, eval: evalSettings } };
}

test('tables/*.csv hold fractions: mean, sample std, n and the 95% interval per cell, with the leading columns of the contract', () => {
  const rows = csvObjects([
    record({ temperature: 5, seed: 0, accuracies: [0.9, 0.5, 0.2, 0.1] }),
    record({ temperature: 5, seed: 1, accuracies: [0.8, 0.3, 0.2, 0.1] }),
    record({ temperature: 0.5, seed: 0, accuracies: [0.99, 0.6, 0.3, 0.0] }),
  ]);
  assert.deepEqual(Object.keys(rows[0]!).slice(0, TABLE_CSV_COLUMNS.length), [...TABLE_CSV_COLUMNS]);
  assert.deepEqual(Object.keys(rows[0]!).slice(TABLE_CSV_COLUMNS.length, TABLE_CSV_COLUMNS.length + 10), [
    'clean_mean',
    'clean_std',
    'clean_n',
    'clean_ci95_low',
    'clean_ci95_high',
    `${LABELS[0]}_mean`,
    `${LABELS[0]}_std`,
    `${LABELS[0]}_n`,
    `${LABELS[0]}_ci95_low`,
    `${LABELS[0]}_ci95_high`,
  ]);
  const [low, high] = rows;
  assert.deepEqual([low!.temperature, low!.seeds, low!.seeds_failed, low!.clean_mean, low!.clean_std, low!.clean_n], ['0.5', '1', '0', '0.99', '', '1']);
  // T = 5, fgsm@0.1: accuracies 0.5 and 0.3, mean 0.4, sample std sqrt(2 * 0.1^2 / 1) = 0.141421.
  assert.equal(Number(high![`${LABELS[0]}_mean`]), 0.4);
  assert.equal(Number(high![`${LABELS[0]}_std`]), 0.141421);
  assert.equal(Number(high![`${LABELS[0]}_n`]), 2);
  // 0.4 ± t(0.975, 1) * 0.141421 / sqrt(2) = 0.4 ± 12.7062047 * 0.1 = 0.4 ± 1.2706205 (not clipped to [0, 1]); one seed has none.
  assert.deepEqual([high![`${LABELS[0]}_ci95_low`], high![`${LABELS[0]}_ci95_high`]], ['-0.87062', '1.67062']);
  assert.deepEqual([low!.clean_ci95_low, low!.clean_ci95_high], ['', '']);
  for (const row of rows) for (const label of ['clean', ...LABELS]) assert.ok(Number(row[`${label}_mean`]) <= 1, 'fractions like runs.csv');
});

test('a row whose seeds all failed has no numbers and n 0; a partly failed row counts the failure', () => {
  const rows = csvObjects([
    record({ temperature: 100, seed: 0, failureReason: 'loss became NaN' }),
    record({ temperature: 1, seed: 0, accuracies: [0.9, 0.5, 0.2, 0.1] }),
    record({ temperature: 1, seed: 1, failureReason: 'out of memory' }),
  ]);
  assert.deepEqual([rows[0]!.seeds, rows[0]!.seeds_failed, rows[0]!.clean_mean, rows[0]!.clean_n], ['2', '1', '0.9', '1']);
  assert.deepEqual([rows[1]!.temperature, rows[1]!.seeds, rows[1]!.seeds_failed, rows[1]!.clean_mean, rows[1]!.clean_std, rows[1]!.clean_n], ['100', '1', '1', '', '', '0']);
});

test('the human table shows the same cells as the CSV, in percent', () => {
  const records = [
    record({ temperature: 5, seed: 0, accuracies: [0.9, 0.5, 0.2, 0.1] }),
    record({ temperature: 5, seed: 1, accuracies: [0.8, 0.3, 0.25, 0.1] }),
  ];
  const [row] = csvObjects(records);
  const [human] = pivotTables(records);
  const [mean, std] = human!.rows[0]![3]!.split(' ± ').map(Number);
  assert.equal(mean, Number((Number(row![`${LABELS[0]}_mean`]) * 100).toFixed(2)));
  assert.equal(std, Number((Number(row![`${LABELS[0]}_std`]) * 100).toFixed(2)));
});

test('the written file parses with csv-parse and quotes labels that hold commas', () => {
  const dir = tempDir();
  const [path] = writeTables(dir, [record({ accuracies: [0.9, 0.5, 0.2, 0.1] })]);
  const rows = parse(readFileSync(path!, 'utf8'), { columns: true }) as Row[];
  assert.equal(rows.length, 1);
  assert.equal(Number(rows[0]!.clean_mean), 0.9);
});

test('a setup is named by the settings on which the folder differs, and is empty when it does not', () => {
  const same = [record({ seed: 0, accuracies: [0.9] }), record({ seed: 1, accuracies: [0.8] })];
  assert.deepEqual(same.map(setupNamer(same)), ['', '']);
  const mixed = [record({ accuracies: [0.9] }), variant({ accuracies: [0.8] }, { epochs: 1 }), variant({ accuracies: [0.8] }, { samples: 200 })];
  assert.deepEqual(mixed.map(setupNamer(mixed)), ['training.epochs=3 eval.samples=1000', 'training.epochs=1 eval.samples=1000', 'training.epochs=3 eval.samples=200']);
  const adversarial = variant({ accuracies: [0.8] }, {});
  adversarial.job = { ...adversarial.job, training: { ...adversarial.job.training, adversarial: { attack: 'fgsm', eps: 0.1, steps: 7, loss: 'ce', lossTemperature: 'train', ratio: 1 } } };
  const name = setupNamer([record({ accuracies: [0.9] }), adversarial]);
  assert.equal(name(record({ accuracies: [0.9] })), 'training.adversarial=none');
  assert.match(name(adversarial), /^training\.adversarial=\{"attack":"fgsm","eps":0\.1,/);
});

test('models of two setups at the same dataset, architecture, temperature and seed are two rows, never one average', () => {
  const records = [
    variant({ seed: 0, accuracies: [0.9, 0.5, 0.2, 0.1], finishedAt: '2025-01-01T00:00:00.000Z' }, { epochs: 1 }),
    variant({ seed: 0, accuracies: [0.6, 0.3, 0.1, 0.0], finishedAt: '2025-01-02T00:00:00.000Z' }, { epochs: 2 }),
    variant({ seed: 1, accuracies: [0.7, 0.3, 0.1, 0.0], finishedAt: '2025-01-02T00:00:00.000Z' }, { epochs: 2 }),
  ];
  const rows = csvObjects(records);
  assert.deepEqual(
    rows.map((row) => [row.setup, row.temperature, row.seeds, row.clean_mean, row.clean_n]),
    [
      ['training.epochs=1', '1', '1', '0.9', '1'],
      ['training.epochs=2', '1', '2', '0.65', '2'],
    ],
  );
  const [human] = pivotTables(records);
  assert.deepEqual(human!.columns.slice(0, 4), ['setup', 'temperature', 'seeds', 'clean']);
  assert.deepEqual(human!.rows.map((row) => row.slice(0, 4)), [
    ['training.epochs=1', '1', '1', '90.00'],
    ['training.epochs=2', '1', '2', '65.00 ± 7.07'],
  ]);
  assert.match(summaryText(records), /setup {2}temperature {2}seeds/);
  assert.match(summaryText(records), /never averaged together/);
  const markdown = summaryMarkdown(summaryModel(records));
  assert.match(markdown, /\| training\.epochs=2 \| +1 \| +2 \| 65\.00 ± 7\.07<br>\[1\.47, 128\.53\] \|/);
  const runs = runsCsvRows(records).map((row) => Object.fromEntries(RUNS_CSV_COLUMNS.map((column, i) => [column, row[i]])));
  assert.deepEqual(
    runs.filter((row) => row.label === 'clean').map((row) => [row.setup, row.accuracy]),
    [
      ['training.epochs=1', '0.9'],
      ['training.epochs=2', '0.6'],
      ['training.epochs=2', '0.7'],
    ],
    'runs.csv names the same setups, so its rows join the table rows',
  );
  const [plot] = plotSpecs(records);
  assert.deepEqual(plot!.series.slice(0, 2), ['clean [training.epochs=1]', `${LABELS[0]} [training.epochs=1]`]);
  assert.ok(plot!.series.includes('clean [training.epochs=2]'));
});

test('a model evaluated on other images is another setup, not folded into its first evaluation', () => {
  const first = record({ accuracies: [0.9, 0.5, 0.2, 0.1], finishedAt: '2025-01-01T00:00:00.000Z' });
  const smaller = variant({ accuracies: [0.8, 0.4, 0.3, 0.05], finishedAt: '2025-01-02T00:00:00.000Z' }, { samples: 200 });
  assert.equal(latestPerModel([first, smaller]).length, 2);
  assert.deepEqual(
    csvObjects([first, smaller]).map((row) => [row.setup, row.clean_mean]),
    [
      ['eval.samples=1000', '0.9'],
      ['eval.samples=200', '0.8'],
    ],
  );
});

test('calibration rows are kept apart by setup too', () => {
  const withCalibration = (r: RunRecord, ece: number): RunRecord => ({
    ...r,
    calibration: { trainTemperature: { ece, nll: 1 }, unitTemperature: { ece, nll: 1 }, bins: 15 },
  });
  const rows = calibrationRows([
    withCalibration(variant({ accuracies: [0.9] }, { epochs: 1 }), 0.1),
    withCalibration(variant({ accuracies: [0.9] }, { epochs: 2 }), 0.3),
  ]);
  assert.deepEqual(rows.map((row) => [row.setup, row.seeds, row.ece]), [
    ['training.epochs=1', 1, 0.1],
    ['training.epochs=2', 1, 0.3],
  ]);
});

test('the results summary carries the CSV cells, the failures with reasons and the masking flags', () => {
  const flagged = record({ temperature: 100, accuracies: [0.9, 0.8, 0.7, 0.0] });
  flagged.attacks[0]!.masking = ['zero-gradient'];
  flagged.masking = {
    suspected: true,
    maxZeroGradFraction: 0.6,
    flags: [{ check: 'zero-gradient', rows: [LABELS[0]!], message: '60% of the input gradients were exactly zero' }],
  };
  const records = [record({ accuracies: [0.9, 0.5, 0.2, 0.1] }), record({ seed: 1, accuracies: [0.7, 0.5, 0.2, 0.1] }), flagged, record({ temperature: 5, failureReason: 'loss became NaN' })];
  const summary = resultsSummary(records);
  assert.deepEqual([summary.models, summary.ok, summary.failed, summary.setups], [4, 3, 1, [{ setup: '', models: 4 }]]);
  const rows = csvObjects(records);
  for (const row of rows) {
    for (const label of ['clean', ...LABELS]) {
      const cell = summary.cells.find((c) => c.temperature === Number(row.temperature) && c.label === label);
      assert.ok(cell, `${row.temperature} ${label}`);
      assert.deepEqual(
        [cell.mean, cell.std, cell.n],
        [row[`${label}_mean`] === '' ? null : Number(row[`${label}_mean`]), row[`${label}_std`] === '' ? null : Number(row[`${label}_std`]), Number(row[`${label}_n`])],
      );
    }
  }
  const clean = summary.cells.find((c) => c.temperature === 1 && c.label === 'clean')!;
  assert.deepEqual([clean.table, clean.dataset, clean.architecture, clean.mean, clean.std, clean.n, clean.seeds], ['mnist__cnn-small', 'mnist', 'cnn-small', 0.8, 0.141421, 2, 2]);
  assert.deepEqual(summary.cells.find((c) => c.temperature === 100 && c.label === LABELS[0])!.masking, ['zero-gradient']);
  assert.deepEqual(summary.failures, [
    { runId: 'mnist-cnn-small-t5-s0', dataset: 'mnist', architecture: 'cnn-small', setup: '', temperature: 5, seed: 0, reason: 'loss became NaN' },
  ]);
  assert.deepEqual(summary.masking, [
    {
      runId: 'mnist-cnn-small-t100-s0',
      dataset: 'mnist',
      architecture: 'cnn-small',
      setup: '',
      temperature: 100,
      seed: 0,
      check: 'zero-gradient',
      rows: [LABELS[0]],
      message: '60% of the input gradients were exactly zero',
    },
  ]);
});

test('a masking flag marks the cell of its own setup only, not the same temperature and label of another setup', () => {
  const flaggedModel = variant({ temperature: 100, accuracies: [0.9, 0.8, 0.7, 0.0] }, { epochs: 1 });
  flaggedModel.masking = { suspected: true, maxZeroGradFraction: 0.8, flags: [{ check: 'zero-gradient', rows: [LABELS[0]!], message: 'zero' }] };
  const otherSetup = variant({ temperature: 100, accuracies: [0.9, 0.1, 0.1, 0.0] }, { epochs: 2 });
  otherSetup.masking = { suspected: false, maxZeroGradFraction: 0, flags: [] };
  const findings = maskingFindings([flaggedModel, otherSetup]);
  assert.deepEqual(findings.map((finding) => [finding.setup, finding.flags.length]), [['training.epochs=1', 1]]);
  const masked = maskedCells(findings);
  assert.deepEqual(masked.get(cellKey('mnist', 'cnn-small', 'training.epochs=1', '100', LABELS[0]!)), ['zero-gradient']);
  assert.equal(masked.get(cellKey('mnist', 'cnn-small', 'training.epochs=2', '100', LABELS[0]!)), undefined);
});
