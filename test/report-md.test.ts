import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatWarning, gradientMaskingWarnings, summaryMarkdown, summaryModel } from '../src/report/index.js';
import type { RunRecord } from '../src/types.js';
import { record } from './fixtures.js';

const summary = (records: RunRecord[]) => summaryMarkdown(summaryModel(records));

/** The lines of the Markdown section that starts with `heading`, up to the next heading. */
function section(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `no "${heading}" in:\n${markdown}`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('#'));
  return lines.slice(start + 1, end < 0 ? undefined : end).filter((line) => line !== '');
}

test('summary.md has one table per dataset x architecture: a row per temperature, clean and every attack in percent, the 95% interval under mean ± std', () => {
  const markdown = summary([
    record({ temperature: 5, seed: 0, accuracies: [0.9, 0.5, 0.2, 0.1] }),
    record({ temperature: 5, seed: 1, accuracies: [0.8, 0.3, 0.2, 0.1] }),
    record({ temperature: 0.5, seed: 0, accuracies: [0.99, 0.6, 0.3, 0.0] }),
    record({ temperature: 0.5, seed: 1, failureReason: 'loss became NaN' }),
    record({ dataset: 'cifar10', architecture: 'resnet18', accuracies: [0.7, 0.4, 0.2, 0.1] }),
  ]);
  assert.deepEqual(section(markdown, '## mnist / cnn-small').slice(0, 4), [
    '| temperature | seeds |                           clean |                  fgsm-ce(T=1)@0.1 |               fgsm-ce(T=1)@0.3 |                   pgd40-cw@0.3 |',
    '| ----------: | ----: | ------------------------------: | --------------------------------: | -----------------------------: | -----------------------------: |',
    '|         0.5 |   1/2 |                           99.00 |                             60.00 |                          30.00 |                           0.00 |',
    // Two seeds: t(0.975, 1) = 12.706, so 85 ± 12.706 * 7.07 / sqrt(2), not clipped to [0, 100].
    '|           5 |     2 | 85.00 ± 7.07<br>[21.47, 148.53] | 40.00 ± 14.14<br>[-87.06, 167.06] | 20.00 ± 0.00<br>[20.00, 20.00] | 10.00 ± 0.00<br>[10.00, 10.00] |',
  ]);
  assert.deepEqual(section(markdown, '## cifar10 / resnet18').slice(2, 3), ['|           1 |     1 | 70.00 |            40.00 |            20.00 |        10.00 |']);
});

test('the header names the experiment, the runs ok and failed, the backend and the newest record', () => {
  const markdown = summary([
    record({ seed: 0, accuracies: [0.9, 0.5, 0.2, 0.1], finishedAt: '2025-03-04T05:06:07.000Z' }),
    record({ seed: 1, accuracies: [0.9, 0.5, 0.2, 0.1], finishedAt: '2025-03-09T10:11:12.000Z', backend: 'tensorflow' }),
    record({ seed: 2, failureReason: 'out of memory', finishedAt: '2025-03-08T00:00:00.000Z' }),
  ]);
  assert.deepEqual(markdown.split('\n').slice(0, 6), [
    '# quickstart: temperature sweep report',
    '',
    '- Runs: 2 ok, 1 failed',
    '- Backend: wasm, tensorflow',
    '- Newest record: 2025-03-09 10:11 UTC',
    '',
  ]);
});

test('failed runs are listed with their reasons, or "None."', () => {
  const failed = summary([
    record({ accuracies: [0.9, 0.5, 0.2, 0.1] }),
    record({ temperature: 100, failureReason: 'training loss became NaN at epoch 1, step 3 of 63' }),
  ]);
  assert.deepEqual(section(failed, '## Failed runs'), [
    '- mnist-cnn-small-t100-s0 (mnist / cnn-small, T=100, seed 0): training loss became NaN at epoch 1, step 3 of 63',
  ]);
  assert.deepEqual(section(summary([record({ accuracies: [0.9, 0.5, 0.2, 0.1] })]), '## Failed runs'), ['None.']);
});

test('a summary without records says so and still has every section', () => {
  const markdown = summary([]);
  assert.match(markdown, /^- Runs: 0 ok, 0 failed$/m);
  assert.match(markdown, /^No runs recorded\.$/m);
  assert.deepEqual(section(markdown, '## Failed runs'), ['None.']);
  assert.deepEqual(section(markdown, '## Gradient-masking warnings').slice(1), ['None.']);
});

test('an attack is flagged when more than 10% of its input gradients were exactly zero, averaged over seeds', () => {
  const warnings = gradientMaskingWarnings([
    // fgsm@0.1: mean (0.05 + 0.2) / 2 = 0.125 > 0.1; fgsm@0.3: exactly 0.1 is not more than 10%; cw: 0.
    record({ temperature: 100, seed: 0, accuracies: [0.9, 0.8, 0.7, 0.0], zeroGradFractions: [0.05, 0.1, 0] }),
    record({ temperature: 100, seed: 1, accuracies: [0.9, 0.6, 0.7, 0.0], zeroGradFractions: [0.2, 0.1, 0] }),
    record({ temperature: 1, accuracies: [0.9, 0.5, 0.1, 0.0], zeroGradFractions: [0, 0, 0] }),
  ]);
  assert.deepEqual(
    warnings.map(({ temperature, label, zeroGradFraction, accuracy }) => [temperature, label, zeroGradFraction, accuracy]),
    [[100, 'fgsm-ce(T=1)@0.1', 0.125, 70]],
  );
});

test('the warning quotes the CW-margin attack at the same eps, when the sweep has one', () => {
  const warnings = gradientMaskingWarnings([
    record({ temperature: 100, accuracies: [0.878, 0.863, 0.863, 0.0], zeroGradFractions: [0.786, 0.786, 0] }),
  ]);
  assert.deepEqual(
    warnings.map((warning) => [warning.label, warning.cwComparisons]),
    [
      ['fgsm-ce(T=1)@0.1', []],
      ['fgsm-ce(T=1)@0.3', [{ label: 'pgd40-cw@0.3', accuracy: 0 }]],
    ],
  );
  assert.deepEqual(warnings.map(formatWarning), [
    'mnist / cnn-small, T=100: 78.6% of input gradients were exactly zero under fgsm-ce(T=1)@0.1 — its accuracy (86.30%) ' +
      'may reflect gradient masking rather than robustness; compare with a CW-margin attack',
    'mnist / cnn-small, T=100: 78.6% of input gradients were exactly zero under fgsm-ce(T=1)@0.3 — its accuracy (86.30%) ' +
      'may reflect gradient masking rather than robustness; compare with a CW-margin attack (at the same eps, pgd40-cw@0.3 gives 0.00%)',
  ]);
});

test('failed runs and unmeasured gradients raise no warning', () => {
  assert.deepEqual(
    gradientMaskingWarnings([
      record({ temperature: 100, failureReason: 'loss became NaN' }),
      record({ temperature: 30, accuracies: [0.9, 0.8, 0.7, 0.0], zeroGradFractions: [null, null, null] }),
    ]),
    [],
  );
});

test('summary.md lists every warning under "Gradient-masking warnings"', () => {
  const records = [
    record({ temperature: 30, accuracies: [0.9, 0.856, 0.856, 0.0], zeroGradFractions: [0.541, 0.541, 0] }),
    record({ temperature: 100, accuracies: [0.878, 0.863, 0.863, 0.0], zeroGradFractions: [0.786, 0.786, 0] }),
  ];
  const lines = section(summary(records), '## Gradient-masking warnings');
  assert.equal(lines[0], 'Cells where more than 10% of input gradients were exactly zero (mean over seeds).');
  assert.deepEqual(lines.slice(1), gradientMaskingWarnings(records).map((warning) => `- ${formatWarning(warning)}`));
  assert.equal(lines.length, 1 + 4);
});

test("the config's description, when given, is the paragraph under the title", () => {
  const records = [record({ accuracies: [0.9, 0.5, 0.2, 0.1] })];
  assert.deepEqual(summaryMarkdown(summaryModel(records, 'Compare pgd40-ce(T=1) with pgd40-cw.')).split('\n').slice(0, 4), [
    '# quickstart: temperature sweep report',
    '',
    'Compare pgd40-ce(T=1) with pgd40-cw.',
    '',
  ]);
  assert.equal(summary(records).split('\n')[2], '- Runs: 1 ok, 0 failed');
});
