// One results folder, one truth: after runs of several configs into one folder, the printed table, tables/*.csv,
// `temper run --json`, `temper report` and `temper status` all cover every record and keep setups apart alike.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { temperCli, tempDir, writeConfigFile } from './helpers.js';
import type { ResultCell, ResultsSummary } from '../src/report/index.js';

type Row = Record<string, string>;

const config = {
  name: 'one-folder',
  datasets: ['synthetic'],
  architectures: ['mlp'],
  temperatures: [1],
  seeds: [0],
  training: { epochs: 1, batchSize: 64 },
  attacks: [{ name: 'fgsm', eps: 0.1 }],
  eval: { samples: 64, batchSize: 64 },
};

const readCsv = (path: string) => parse(readFileSync(path, 'utf8'), { columns: true }) as Row[];
const labelsOf = (row: Row) => Object.keys(row).filter((key) => key.endsWith('_mean')).map((key) => key.slice(0, -'_mean'.length));
const numberOrNull = (text: string | undefined) => (text === undefined || text === '' ? null : Number(text));

/** The printed table of `<dataset> / <architecture>` as objects keyed by its header cells. */
function printedTable(stdout: string, title: string): Row[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`${title}  (accuracy %`));
  assert.ok(start >= 0, `no table "${title}" in:\n${stdout}`);
  const end = lines.findIndex((line, i) => i > start && line.trim() === '');
  const [header, rule, ...rows] = lines.slice(start + 1, end);
  // The rule under the header marks each column's span; an empty cell is blanks there.
  const spans = [...rule!.matchAll(/-+/g)].map((match) => [match.index, match.index + match[0].length] as const);
  const cellsOf = (line: string) => spans.map(([from, to]) => line.slice(from, to).trim());
  const names = cellsOf(header!);
  // A line with no temperature is the 95% intervals of the row above: kept with that row as `<label> ci95`.
  const table: Row[] = [];
  for (const line of rows) {
    const cells = cellsOf(line);
    if (cells[names.indexOf('temperature')] !== '') table.push(Object.fromEntries(names.map((name, i) => [name, cells[i]!])));
    else Object.assign(table.at(-1)!, Object.fromEntries(names.flatMap((name, i) => (cells[i] ? [[`${name} ci95`, cells[i]!]] : []))));
  }
  return table;
}

/** Every CSV cell matches the printed one (percent, 2 decimals) and the JSON one (the same fraction). */
function assertAgree(csv: Row[], printed: Row[] | undefined, cells: ResultCell[]): void {
  for (const row of csv) {
    const where = `${row.setup} T=${row.temperature}`;
    const shown = printed?.find((p) => (p.setup ?? '') === row.setup && p.temperature === row.temperature);
    if (printed) assert.ok(shown, `printed row for ${where}`);
    for (const label of labelsOf(row)) {
      const [mean, std, n] = [numberOrNull(row[`${label}_mean`]), numberOrNull(row[`${label}_std`]), Number(row[`${label}_n`])];
      const [low, high] = [numberOrNull(row[`${label}_ci95_low`]), numberOrNull(row[`${label}_ci95_high`])];
      const cell = cells.find((c) => c.setup === row.setup && c.temperature === Number(row.temperature) && c.label === label);
      assert.deepEqual(cell && [cell.mean, cell.std, cell.n, cell.ci95Low, cell.ci95High], [mean, std, n, low, high], `JSON cell ${where} ${label}`);
      if (!shown) continue;
      // The interval under the cell, in percent; none where the CSV has none (one seed).
      const interval = shown[`${label} ci95`];
      if (low === null) assert.equal(interval, undefined, `${where} ${label}: no interval with ${n} seed(s)`);
      else assert.deepEqual(/^\[(.+), (.+)\]$/.exec(interval ?? '')?.slice(1).map((part) => Math.round(Number(part) * 100)), [Math.round(low * 1e4), Math.round(high! * 1e4)], `${where} ${label}: printed ${interval}`);
      const [shownMean, shownStd] = shown[label]!.split(' ± ').map((part) => numberOrNull(part));
      if (mean === null) assert.equal(shown[label], '', `${where} ${label}`);
      else assert.ok(Math.abs(shownMean! - mean * 100) <= 0.005 + 1e-9, `${where} ${label}: printed ${shown[label]}, csv ${mean}`);
      if (std !== null) assert.ok(Math.abs(shownStd! - std * 100) <= 0.005 + 1e-9, `${where} ${label}: printed ${shown[label]}, csv std ${std}`);
    }
  }
}

describe('a second config run into the same folder', () => {
  const out = join(tempDir(), 'out');
  const path = writeConfigFile(config);
  const table = join(out, 'tables', 'synthetic__mlp.csv');

  it('temper run --json carries the table (mean, std, n per model and attack), the failures and the masking flags', () => {
    const result = temperCli(['run', path, '--out', out, '--backend', 'wasm', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const json = JSON.parse(result.stdout) as { ok: number; failures: unknown[]; otherRecords: number; results: ResultsSummary };
    assert.deepEqual([json.ok, json.failures, json.otherRecords], [1, [], 0]);
    assert.deepEqual([json.results.models, json.results.failed, json.results.failures, json.results.setups], [1, 0, [], [{ setup: '', models: 1 }]]);
    assert.ok(Array.isArray(json.results.masking));
    assert.deepEqual(json.results.cells.map((cell) => [cell.table, cell.label, cell.temperature, cell.n, cell.std]), [
      ['synthetic__mlp', 'clean', 1, 1, null],
      ['synthetic__mlp', 'fgsm-ce(T=1)@0.1', 1, 1, null],
    ]);
    const runs = readCsv(join(out, 'runs.csv'));
    for (const cell of json.results.cells) assert.equal(cell.mean, Number(runs.find((row) => row.label === cell.label)!.accuracy), cell.label);
    assertAgree(readCsv(table), undefined, json.results.cells);
  });

  it('more seeds and another eps add to the same setup, and the printed table is the folder\'s table', () => {
    const result = temperCli(['run', path, '--out', out, '--backend', 'wasm', '--set', 'seeds=[0,1]', '--set', 'attacks[0].eps=0.2']);
    assert.equal(result.status, 0, result.stderr);
    const csv = readCsv(table);
    assert.deepEqual(
      csv.map((row) => [row.setup, row.seeds, row.clean_n, row['fgsm-ce(T=1)@0.1_n'], row['fgsm-ce(T=1)@0.2_n']]),
      [['', '2', '2', '1', '2']],
      'the first run\'s eps stays, measured on its one seed',
    );
    const printed = printedTable(result.stdout, 'synthetic / mlp');
    // Two seeds give an interval under clean and eps 0.2; the first run's eps, on one seed, has none.
    assert.deepEqual(Object.keys(printed[0]!).sort(), ['clean', 'clean ci95', 'fgsm-ce(T=1)@0.1', 'fgsm-ce(T=1)@0.2', 'fgsm-ce(T=1)@0.2 ci95', 'seeds', 'temperature']);
    assertAgree(csv, printed, JSON.parse(temperCli(['report', out, '--json']).stdout).results.cells);
    assert.match(result.stdout, /the tables cover every record in .*: 1 of 3 come from other configs/);
  });

  it('other training settings are another setup: every view keeps the rows apart and says so', () => {
    const result = temperCli(['run', path, '--out', out, '--backend', 'wasm', '--set', 'training.epochs=2']);
    assert.equal(result.status, 0, result.stderr);
    const csv = readCsv(table);
    assert.deepEqual(
      csv.map((row) => [row.setup, row.temperature, row.seeds, row.clean_n]),
      [
        ['training.epochs=1', '1', '2', '2'],
        ['training.epochs=2', '1', '1', '1'],
      ],
    );
    const printed = printedTable(result.stdout, 'synthetic / mlp');
    assert.equal(printed.length, 2);
    assert.match(result.stdout, /never averaged together/);

    const report = temperCli(['report', out, '--json']);
    assert.equal(report.status, 0, report.stderr);
    const { results } = JSON.parse(report.stdout) as { results: ResultsSummary };
    assert.deepEqual(results.setups, [
      { setup: 'training.epochs=1', models: 2 },
      { setup: 'training.epochs=2', models: 1 },
    ]);
    assertAgree(readCsv(table), printed, results.cells);
    assert.deepEqual(readCsv(table), csv, 'temper report rebuilds the same table');
    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    for (const setup of ['training.epochs=1', 'training.epochs=2']) assert.match(summary, new RegExp(`\\| ${setup.replace('.', '\\.')} \\|`));

    const status = temperCli(['status', out, '--json']);
    assert.equal(status.status, 0, status.stderr);
    const { setups, otherRecords } = JSON.parse(status.stdout) as { setups: Array<{ setup: string; models: number; thisConfig: boolean }>; otherRecords: number };
    assert.deepEqual(
      setups.map(({ setup, models, thisConfig }) => [setup, models, thisConfig]),
      [
        ['training.epochs=1', 2, false],
        ['training.epochs=2', 1, true],
      ],
    );
    assert.equal(otherRecords, 3);
    const text = temperCli(['status', out]).stdout;
    assert.match(text, /the tables keep 2 setups apart/);
    assert.match(text, / {2}training\.epochs=2: 1 model, config\.json/);
  });
});
