import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { smallConfig, tempDir, wasmBackend } from './helpers.js';
import { runSweep } from '../src/runner/sweep.js';
import { QuietProgress } from '../src/runner/progress.js';
import { RUNS_CSV_COLUMNS } from '../src/report/runs-csv.js';

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
    const cells = (label: string) => [`${label}_mean`, `${label}_std`, `${label}_n`];
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
