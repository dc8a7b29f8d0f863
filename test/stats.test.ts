// The statistics a reviewer expects: the 95% interval of the mean over seeds (Student t), and each temperature
// against a baseline temperature as a paired difference over seeds, with whether it is distinguishable from 0.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { meanInterval95, pairedDifference, tQuantile975 } from '../src/report/stats.js';
import { pairedComparisons, type ComparisonGroup } from '../src/report/paired.js';
import { resultsSummary } from '../src/report/results.js';
import { pivotTables, resultTables, tableCsvRows } from '../src/report/tables.js';
import { plotSpecs, summaryMarkdown, summaryModel, summaryText } from '../src/report/index.js';
import { reportHtml } from '../src/report/html.js';
import { parseConfigText } from '../src/config/load.js';
import { ConfigError } from '../src/config/errors.js';
import type { RunRecord } from '../src/types.js';
import { writeRecord } from '../src/runner/store.js';
import { LABELS, record } from './fixtures.js';
import { temperCli, tempDir } from './helpers.js';

const close = (actual: number | null | undefined, expected: number, tolerance = 1e-6) =>
  assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) <= tolerance, `expected ${expected} ± ${tolerance}, found ${actual}`);

// Accuracies: clean, fgsm-ce(T=1)@0.1, fgsm-ce(T=1)@0.3, pgd40-cw@0.3.
// Against T = 1, clean gains 5, 4, 3 points at T = 5 (seeds 0, 1, 2): mean 4, std 1, distinguishable;
// fgsm@0.1 changes by +2, -1, +2: mean 1, std sqrt(3), not distinguishable. At T = 10 seed 2 failed: 2 pairs.
const SWEEP: RunRecord[] = [
  record({ temperature: 1, seed: 0, accuracies: [0.9, 0.5, 0.3, 0.1] }),
  record({ temperature: 1, seed: 1, accuracies: [0.92, 0.52, 0.3, 0.1] }),
  record({ temperature: 1, seed: 2, accuracies: [0.94, 0.54, 0.3, 0.1] }),
  record({ temperature: 5, seed: 0, accuracies: [0.95, 0.52, 0.3, 0.1] }),
  record({ temperature: 5, seed: 1, accuracies: [0.96, 0.51, 0.3, 0.1] }),
  record({ temperature: 5, seed: 2, accuracies: [0.97, 0.56, 0.3, 0.1] }),
  record({ temperature: 10, seed: 0, accuracies: [0.8, 0.5, 0.3, 0.1] }),
  record({ temperature: 10, seed: 1, accuracies: [0.81, 0.52, 0.3, 0.1] }),
  record({ temperature: 10, seed: 2, failureReason: 'loss became NaN' }),
];

const comparison = (groups: ComparisonGroup[], label: string, temperature: number) => {
  const found = groups.flatMap((group) => group.comparisons).find((c) => c.label === label && c.temperature === temperature);
  assert.ok(found, `no comparison of ${label} at T=${temperature}`);
  return found;
};

test('t(0.975, df) matches the published table for df 1 to 30 and the exact quantile beyond', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((df) => Number(tQuantile975(df).toFixed(3))), [12.706, 4.303, 3.182, 2.776, 2.571]);
  close(tQuantile975(10), 2.228139);
  close(tQuantile975(30), 2.042272);
  // scipy.stats.t.ppf(0.975, df): the expansion takes over after the table.
  close(tQuantile975(31), 2.039513);
  close(tQuantile975(40), 2.021075);
  close(tQuantile975(60), 2.000298);
  close(tQuantile975(120), 1.97993);
  close(tQuantile975(1000), 1.962339);
  for (let df = 1; df < 200; df++) assert.ok(tQuantile975(df + 1) < tQuantile975(df), `decreasing at df ${df}`);
  assert.throws(() => tQuantile975(0), /degrees of freedom/);
  assert.throws(() => tQuantile975(2.5), /degrees of freedom/);
});

test('the 95% interval of the mean over 3 seeds is mean ± t(0.975, 2) · std / sqrt(3); one seed has none', () => {
  // mean 0.92, std 0.02: half-width 4.302653 * 0.02 / sqrt(3) = 0.0496828.
  const interval = meanInterval95([0.9, 0.92, 0.94]);
  close(interval?.low, 0.92 - 0.0496828);
  close(interval?.high, 0.92 + 0.0496828);
  assert.equal(meanInterval95([0.9]), null);
  assert.equal(meanInterval95([]), null);
});

test('a paired difference is distinguishable from 0 only when its interval excludes 0', () => {
  const gain = pairedDifference([
    { value: 95, baseline: 90 },
    { value: 96, baseline: 92 },
    { value: 97, baseline: 94 },
  ]);
  assert.equal(gain.pairs, 3);
  close(gain.meanDifference, 4);
  // d = 5, 4, 3: std 1, half-width 4.302653 / sqrt(3) = 2.484138.
  close(gain.interval?.low, 4 - 2.484138);
  close(gain.interval?.high, 4 + 2.484138);
  assert.equal(gain.distinguishable, true);
  // d = 2, -1, 2: mean 1, std sqrt(3), half-width 4.302653: the interval holds 0.
  const noise = pairedDifference([
    { value: 52, baseline: 50 },
    { value: 51, baseline: 52 },
    { value: 56, baseline: 54 },
  ]);
  close(noise.interval?.low, 1 - 4.302653);
  assert.equal(noise.distinguishable, false);
  const single = pairedDifference([{ value: 97, baseline: 90 }]);
  assert.deepEqual(single, { pairs: 1, meanDifference: 7, interval: null, distinguishable: null });
});

test('each temperature is compared with T = 1 seed by seed, and a seed that failed at one temperature drops its pair', () => {
  const groups = pairedComparisons(SWEEP, 1);
  assert.equal(groups.length, 1);
  assert.deepEqual(
    groups[0]!.comparisons.map((c) => `${c.label} T=${c.temperature}`),
    ['clean', ...LABELS].flatMap((label) => [`${label} T=5`, `${label} T=10`]),
  );
  const clean5 = comparison(groups, 'clean', 5);
  assert.equal(clean5.pairs, 3);
  close(clean5.meanDifference, 4);
  close(clean5.interval?.low, 4 - 2.484138);
  assert.equal(clean5.distinguishable, true);
  assert.equal(comparison(groups, LABELS[0]!, 5).distinguishable, false);
  // T = 10: seed 2 failed, so 2 pairs: d = -10, -11, mean -10.5, std sqrt(0.5), half-width 12.706205 * 0.5 = 6.3531.
  const clean10 = comparison(groups, 'clean', 10);
  assert.equal(clean10.pairs, 2);
  close(clean10.meanDifference, -10.5);
  close(clean10.interval?.high, -10.5 + 6.3531025);
  assert.equal(clean10.distinguishable, true);
});

test('another baseline temperature compares the others with it', () => {
  const groups = pairedComparisons(SWEEP, 5);
  assert.deepEqual([...new Set(groups[0]!.comparisons.map((c) => c.temperature))], [1, 10]);
  close(comparison(groups, 'clean', 1).meanDifference, -4);
  assert.match(pairedComparisons(SWEEP, 3)[0]!.nothingToCompare ?? '', /no model finished at the baseline T = 3/);
});

test('models of two setups are compared within their own setup, never across', () => {
  const epochs = (r: RunRecord): RunRecord => ({
    ...r,
    runId: `${r.runId}-e7`,
    job: { ...r.job, runId: `${r.runId}-e7`, trainingId: `${r.job.trainingId}-e7`, training: { ...r.job.training, epochs: 7 } },
  });
  const groups = pairedComparisons([...SWEEP.slice(0, 6), ...SWEEP.slice(0, 3).map(epochs)], 1);
  assert.deepEqual(
    groups.map((group) => [group.setup, group.nothingToCompare ?? 'compared']),
    [
      ['training.epochs=3', 'compared'],
      ['training.epochs=7', 'only T = 1 was trained: no other temperature to compare'],
    ],
  );
});

test('summary.md states which differences are distinguishable from 0 and which are not, with the pairs counted', () => {
  const markdown = summaryMarkdown(summaryModel(SWEEP));
  const section = markdown.slice(markdown.indexOf('## Each temperature against T = 1, paired by seed'), markdown.indexOf('## Failed runs'));
  assert.match(section, /### mnist \/ cnn-small/);
  assert.match(section, /\| clean +\| +5 \| +3 \| +\+4\.00 \| +\[\+1\.52, \+6\.48\] \| +yes \|/);
  assert.match(section, /\| clean +\| +10 \| +2 \| +-10\.50 \| +\[-16\.85, -4\.15\] \| +yes \|/);
  assert.match(section, /\| fgsm-ce\(T=1\)@0\.1 +\| +5 \| +3 \| +\+1\.00 \| +\[-3\.30, \+5\.30\] \| +no \|/);
  assert.match(section, /Distinguishable from 0 at the 95% level \(interval excludes 0\): clean at T = 5 \(\+4\.00\), clean at T = 10 \(-10\.50\)/);
  assert.match(section, /Not distinguishable from 0 \(interval includes 0\): fgsm-ce\(T=1\)@0\.1 at T = 5,/);
  const html = reportHtml(summaryModel(SWEEP), []);
  assert.match(html, /<h2 id="paired">Each temperature against T = 1, paired by seed<\/h2>/);
  assert.match(html, /<td>clean<\/td><td>5<\/td><td>3<\/td><td>\+4\.00<\/td><td>\[\+1\.52, \+6\.48\]<\/td><td class="yes">yes<\/td>/);
});

test('with one seed the summary gives no interval, and says so', () => {
  const oneSeed = [SWEEP[0]!, SWEEP[3]!, SWEEP[6]!];
  const markdown = summaryMarkdown(summaryModel(oneSeed));
  assert.match(markdown, /\| clean +\| +5 \| +1 \| +\+5\.00 \| +none \| +no interval \|/);
  assert.match(markdown, /No interval can be given: no temperature has two or more seeds paired with the baseline/);
  assert.doesNotMatch(markdown, /Distinguishable from 0 at/);
  // Nor in the accuracy tables: a cell is its one value, no bracket under it.
  assert.deepEqual(pivotTables(oneSeed)[0]!.intervals, [[], [], []]);
  assert.doesNotMatch(markdown, /<br>\[/);
});

test('tables/*.csv carry the interval as numeric fractions, empty with one seed; the human tables put it under the cell', () => {
  const [header, ...rows] = tableCsvRows(resultTables(SWEEP)[0]!);
  assert.deepEqual(
    header!.filter((column) => column.startsWith('clean_')),
    ['clean_mean', 'clean_std', 'clean_n', 'clean_ci95_low', 'clean_ci95_high'],
  );
  const objects = parse([header, ...rows].map((row) => row!.join('\t')).join('\n'), { columns: true, delimiter: '\t' }) as Array<Record<string, string>>;
  const t1 = objects.find((row) => row.temperature === '1')!;
  assert.deepEqual([t1.clean_ci95_low, t1.clean_ci95_high], ['0.870317', '0.969683']);
  for (const row of objects) for (const label of ['clean', ...LABELS]) assert.ok(Number.isFinite(Number(row[`${label}_ci95_low`])), 'numeric');
  const t10 = objects.find((row) => row.temperature === '10')!;
  assert.equal(t10.clean_n, '2');
  const [single] = tableCsvRows(resultTables([SWEEP[0]!])[0]!).slice(1);
  const columns = header!.slice(0, single!.length);
  assert.deepEqual([single![columns.indexOf('clean_ci95_low')], single![columns.indexOf('clean_ci95_high')]], ['', '']);

  const text = summaryText(SWEEP);
  const lines = text.split('\n');
  const row1 = lines.findIndex((line) => /^ +1 +3 +92\.00 ± 2\.00/.test(line));
  assert.ok(row1 > 0, text);
  assert.match(lines[row1 + 1]!, /^ +\[87\.03, 96\.97\] /);
  assert.ok(lines.every((line) => line.length <= 120), 'fits 120 columns');
  assert.match(summaryMarkdown(summaryModel(SWEEP)), /\| +92\.00 ± 2\.00<br>\[87\.03, 96\.97\] \|/);
});

test('the JSON results carry the interval of every cell and the paired comparisons, as fractions', () => {
  const results = resultsSummary(SWEEP);
  const cell = results.cells.find((c) => c.label === 'clean' && c.temperature === 1)!;
  assert.deepEqual([cell.ci95Low, cell.ci95High], [0.870317, 0.969683]);
  assert.deepEqual([resultsSummary([SWEEP[0]!]).cells[0]!.ci95Low, resultsSummary([SWEEP[0]!]).cells[0]!.ci95High], [null, null]);
  assert.equal(results.baselineTemperature, 1);
  const clean5 = results.comparisons.find((c) => c.label === 'clean' && c.temperature === 5)!;
  assert.deepEqual(clean5, { dataset: 'mnist', architecture: 'cnn-small', setup: '', label: 'clean', temperature: 5, pairs: 3, meanDifference: 0.04, ci95Low: 0.015159, ci95High: 0.064841, distinguishable: true });
});

test('report.baselineTemperature must be one of the temperatures the config trains', () => {
  const names = { datasets: ['mnist'], architectures: ['cnn-small'] };
  const config = (baseline: number) =>
    JSON.stringify({ name: 'b', datasets: ['mnist'], architectures: ['cnn-small'], temperatures: [1, 5], report: { baselineTemperature: baseline } });
  assert.equal(parseConfigText(config(5), 'b.json', { names }).report?.baselineTemperature, 5);
  assert.throws(
    () => parseConfigText(config(2), 'b.json', { names }),
    (error: unknown) => error instanceof ConfigError && /report\.baselineTemperature/.test(error.message) && /one of the config's temperatures \(1, 5\)/.test(error.message),
  );
});

/** A results folder holding nothing but SWEEP's run records. */
function sweepFolder(): string {
  const dir = tempDir();
  for (const [index, each] of SWEEP.entries()) writeRecord(dir, { ...each, job: { ...each.job, index } });
  return dir;
}

test('temper report --baseline T compares with T; without it, the config.json of the folder decides, else T = 1', () => {
  const dir = sweepFolder();
  const chosen = temperCli(['report', dir, '--baseline', '5', '--json']);
  assert.equal(chosen.status, 0, chosen.stderr);
  assert.equal((JSON.parse(chosen.stdout) as { results: { baselineTemperature: number } }).results.baselineTemperature, 5);
  assert.match(readFileSync(join(dir, 'summary.md'), 'utf8'), /## Each temperature against T = 5, paired by seed/);

  writeFileSync(join(dir, 'config.json'), JSON.stringify({ name: 'b', temperatures: [1, 5, 10], report: { baselineTemperature: 10 } }));
  assert.equal(temperCli(['report', dir]).status, 0);
  assert.match(readFileSync(join(dir, 'summary.md'), 'utf8'), /## Each temperature against T = 10, paired by seed/);
  assert.match(readFileSync(join(dir, 'index.html'), 'utf8'), /<h2 id="paired">Each temperature against T = 10, paired by seed<\/h2>/);
});

test('temper report --baseline with a temperature the folder never trained exits 2 and writes nothing', () => {
  const dir = sweepFolder();
  const result = temperCli(['report', dir, '--baseline', '3']);
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /--baseline 3: expected one of the temperatures recorded in .*runs \(1, 5, 10\), found 3/);
  assert.deepEqual(readdirSync(dir), ['runs']);
  const zero = temperCli(['report', dir, '--baseline', '0']);
  assert.equal(zero.status, 2, zero.stderr);
  assert.match(zero.stderr, /--baseline: expected a temperature > 0/);
  assert.deepEqual(readdirSync(dir), ['runs']);
});

test('the accuracy-vs-temperature band is the 95% interval of the mean, clipped to [0, 100], and the plot says so', () => {
  const [plot] = plotSpecs(SWEEP);
  assert.match(plot!.notes[0]!, /band = 95% confidence interval of the mean/);
  const points = (plot!.spec as unknown as { data: { values: Array<{ series: string; temperature: number; accuracy: number; lower: number; upper: number }> } }).data.values;
  const at = (series: string, temperature: number) => points.find((p) => p.series === series && p.temperature === temperature)!;
  close(at('clean', 1).lower, 92 - 4.96828, 1e-4);
  close(at('clean', 1).upper, 92 + 4.96828, 1e-4);
  // T = 10 fgsm@0.1 over 2 seeds: 51 ± 12.706205 * 1.414214 / sqrt(2) = [38.29, 63.71].
  close(at(LABELS[0]!, 10).lower, 51 - 12.706205, 1e-4);
  const [single] = plotSpecs([SWEEP[0]!, SWEEP[3]!]);
  const lone = (single!.spec as unknown as { data: { values: Array<{ accuracy: number; lower: number; upper: number }> } }).data.values[0]!;
  assert.deepEqual([lone.lower, lone.upper], [lone.accuracy, lone.accuracy], 'one seed: no band');
  const wide = plotSpecs([SWEEP[0]!, record({ temperature: 1, seed: 1, accuracies: [0.2, 0.5, 0.3, 0.1] })]);
  const clipped = (wide[0]!.spec as unknown as { data: { values: Array<{ series: string; lower: number; upper: number }> } }).data.values.find((p) => p.series === 'clean')!;
  assert.deepEqual([clipped.lower, clipped.upper], [0, 100]);
});

test('more than ten lines get a 20-colour palette, so no two lines share a colour', () => {
  const few = record({ temperature: 1, seed: 0, accuracies: [0.9, 0.5, 0.3, 0.1] });
  const many: RunRecord = { ...few, attacks: [...few.attacks!, ...Array.from({ length: 9 }, (_, k) => ({ ...few.attacks![0]!, label: `fgsm-ce(T=1)@0.0${k + 1}`, eps: (k + 1) / 100 }))] };
  const palette = (records: RunRecord[]) => {
    const plot = plotSpecs(records).find((p) => p.kind === 'accuracy-vs-temperature')!;
    return [plot.series.length, JSON.stringify(plot.spec).includes('"scheme":"category20"')];
  };
  assert.deepEqual(palette([few]), [4, false]);
  assert.deepEqual(palette([many]), [13, true]);
});
