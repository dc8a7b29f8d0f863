// The robustness suite through a whole sweep: transfer from another model of the sweep, black-box, ensemble,
// corruptions, calibration, the masking audit, and where each lands in runs.csv, the records, tables and summary.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { smallConfig, tempDir, wasmBackend } from './helpers.js';
import { runSweep } from '../src/runner/sweep.js';
import { QuietProgress } from '../src/runner/progress.js';
import type { RunRecord } from '../src/types.js';

const config = smallConfig({
  name: 'robustness-test',
  architectures: ['mlp'],
  temperatures: [1, 1000],
  seeds: [0],
  training: { epochs: 2, batchSize: 64 },
  attacks: [
    { name: 'fgsm', eps: 0.1 },
    { name: 'pgd', eps: [0.05, 0.1], steps: 5, stepSize: 0.03 },
    { name: 'pgd', eps: 0.1, steps: 5, stepSize: 0.03, loss: 'cw' },
    { name: 'square', eps: 0.1, queries: 50 },
    { name: 'transfer', eps: 0.1, source: { architecture: 'mlp', temperature: 1 }, attack: { name: 'fgsm' } },
    { name: 'autoattack', eps: 0.1, attacks: [{ name: 'apgd', steps: 10 }, { name: 'square', queries: 20 }] },
  ],
  corruptions: { types: ['gaussian_noise', 'contrast'], severities: [1, 5] },
  eval: { samples: 64, batchSize: 32 },
});

type Row = Record<string, string>;

describe('a robustness sweep on synthetic, end to end', () => {
  const outDir = tempDir();
  let rows: Row[];
  let records: RunRecord[];
  before(async () => {
    await wasmBackend();
    const result = await runSweep(config, { outDir, backend: 'wasm', progress: new QuietProgress() });
    assert.equal(result.failed, 0, JSON.stringify(result.records.map((r) => r.failureReason)));
    rows = parse(readFileSync(join(outDir, 'runs.csv'), 'utf8'), { columns: true }) as Row[];
    records = readdirSync(join(outDir, 'runs'))
      .filter((name) => name.endsWith('.json'))
      .map((name) => JSON.parse(readFileSync(join(outDir, 'runs', name), 'utf8')) as RunRecord);
  });

  it('writes a row per attack and eps and per corruption and severity, with norm, access and severity', () => {
    const t1 = rows.filter((row) => row.temperature === '1');
    assert.deepEqual(
      t1.map((row) => row.label),
      [
        'clean',
        'fgsm-ce(T=1)@0.1',
        'pgd5-ce(T=1)@0.05',
        'pgd5-ce(T=1)@0.1',
        'pgd5-cw@0.1',
        'square50-cw@0.1',
        'transfer(mlp,T=1):fgsm-ce(T=1)@0.1',
        'autoattack-custom@0.1',
        'gaussian_noise@s1',
        'gaussian_noise@s5',
        'contrast@s1',
        'contrast@s5',
      ],
    );
    const byLabel = new Map(t1.map((row) => [row.label, row]));
    assert.equal(byLabel.get('square50-cw@0.1')!.access, 'black-box');
    assert.equal(byLabel.get('square50-cw@0.1')!.zero_grad_fraction, '', 'black-box attacks have no gradients to count');
    assert.equal(byLabel.get('transfer(mlp,T=1):fgsm-ce(T=1)@0.1')!.access, 'transfer');
    assert.equal(byLabel.get('autoattack-custom@0.1')!.access, 'ensemble');
    assert.equal(byLabel.get('contrast@s5')!.severity, '5');
    assert.equal(byLabel.get('contrast@s5')!.eps, '');
    assert.equal(byLabel.get('pgd5-ce(T=1)@0.1')!.norm, 'linf');
    for (const row of t1.filter((r) => r.label !== 'clean')) assert.match(row.accuracy!, /^(0|1|0\.\d+)$/, row.label);
  });

  it('records ECE and NLL at the training temperature and at T = 1 on the clean row', () => {
    for (const record of records) {
      const { trainTemperature, unitTemperature, bins } = record.calibration!;
      assert.equal(bins, 15);
      for (const metrics of [trainTemperature, unitTemperature]) {
        assert.ok(metrics.ece >= 0 && metrics.ece <= 1, JSON.stringify(metrics));
        assert.ok(metrics.nll >= 0 && Number.isFinite(metrics.nll), JSON.stringify(metrics));
      }
    }
    const t1 = records.find((record) => record.job.temperature === 1)!.calibration!;
    assert.deepEqual(t1.trainTemperature, t1.unitTemperature, 'at T = 1 the two are the same softmax');
    const clean = rows.find((row) => row.label === 'clean' && row.temperature === '1000')!;
    assert.match(clean.ece!, /^0(\.\d+)?$/);
    assert.match(clean.nll_t1!, /^\d+(\.\d+)?$/);
  });

  it('audits every model and writes the audit to its record, the masking column and the summary', () => {
    for (const record of records) {
      assert.equal(typeof record.masking!.suspected, 'boolean');
      const flagged = new Set(record.masking!.flags.map((flag) => flag.rows[0]));
      const mine = rows.filter((row) => row.run_id === record.runId);
      for (const row of mine) assert.equal(row.masking !== '', flagged.has(row.label), `${row.label}: masking "${row.masking}"`);
    }
    const summary = readFileSync(join(outDir, 'summary.md'), 'utf8');
    assert.match(summary, /## Gradient-masking audit/);
    assert.match(summary, /## Calibration/);
  });

  it('shows corruptions as one mean column in the main table and in full in their own table', () => {
    const main = readFileSync(join(outDir, 'tables', 'synthetic__mlp.csv'), 'utf8').split('\n')[0]!;
    assert.ok(main.endsWith(',corruptions(mean)_mean,corruptions(mean)_std,corruptions(mean)_n,corruptions(mean)_ci95_low,corruptions(mean)_ci95_high'), main);
    assert.ok(!main.includes('@s1'));
    const corruptions = join(outDir, 'tables', 'synthetic__mlp__corruptions.csv');
    assert.ok(existsSync(corruptions));
    const cells = (label: string) => [`${label}_mean`, `${label}_std`, `${label}_n`, `${label}_ci95_low`, `${label}_ci95_high`];
    assert.equal(
      readFileSync(corruptions, 'utf8').split('\n')[0],
      ['dataset', 'architecture', 'setup', 'temperature', 'seeds', 'seeds_failed', ...['clean', 'gaussian_noise@s1', 'gaussian_noise@s5', 'contrast@s1', 'contrast@s5'].flatMap(cells)].join(','),
    );
    // The corruption table's numbers are the runs.csv rows' mean over seeds.
    const table = parse(readFileSync(corruptions, 'utf8'), { columns: true }) as Row[];
    for (const row of table) {
      const measured = rows.filter((r) => r.label === 'contrast@s5' && r.temperature === row.temperature && r.status === 'ok').map((r) => Number(r.accuracy));
      assert.equal(Number(row['contrast@s5_n']), measured.length);
      assert.ok(Math.abs(Number(row['contrast@s5_mean']) - measured.reduce((a, b) => a + b, 0) / measured.length) < 1e-6);
    }
  });

  it('is deterministic: --force retrains and re-attacks everything and writes the same numbers', async () => {
    const numbers = (list: Row[]) => list.map((row) => [row.label, row.temperature, row.accuracy, row.zero_grad_fraction, row.masking, row.ece, row.nll].join(' '));
    const before = numbers(rows);
    await runSweep(config, { outDir, backend: 'wasm', force: true, progress: new QuietProgress() });
    const again = parse(readFileSync(join(outDir, 'runs.csv'), 'utf8'), { columns: true }) as Row[];
    assert.deepEqual(numbers(again), before);
  });

  it('trains the transfer surrogate once and shares its checkpoint with its own job', () => {
    const checkpoints = readdirSync(join(outDir, 'checkpoints')).filter((name) => !name.startsWith('.'));
    assert.equal(checkpoints.length, 2, 'one checkpoint per trained model, none extra for the surrogate');
  });
});
