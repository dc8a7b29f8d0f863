// Each temperature against a baseline temperature, paired by seed: a seed's two models share its initial weights and
// data order, so d = acc(T) - acc(T_base) per seed removes the seed-to-seed noise both share, and the 95% t interval of
// the mean d says whether T changed accuracy by more than the noise left (the paired t test at the 5% level).
import type { RunRecord } from '../types.js';
import { measurementsOf } from './cells.js';
import { latestPerModel, setupNamer, setupsOf } from './models.js';
import { formatNumber } from './runs-csv.js';
import { pairedDifference, type PairedDifference } from './stats.js';

/** The temperature the others are compared with unless `report.baselineTemperature` or `temper report --baseline` says otherwise. */
export const DEFAULT_BASELINE_TEMPERATURE = 1;

/** One label at one temperature against the same label at the baseline; differences in percentage points. */
export interface PairedComparison extends PairedDifference {
  label: string;
  temperature: number;
}

/** The comparisons of one (dataset, architecture, setup): models of different setups are never paired. */
export interface ComparisonGroup {
  dataset: string;
  architecture: string;
  setup: string;
  baselineTemperature: number;
  /** Why nothing is compared, when nothing is: no finished model at the baseline, or no other temperature. */
  nothingToCompare: string | undefined;
  /** Label by label (clean first, in table order), temperatures ascending within each. */
  comparisons: PairedComparison[];
}

/** Accuracy per temperature, seed and label, in percent, of the finished models of one group. */
type Accuracies = Map<number, Map<number, Map<string, number>>>;

export function pairedComparisons(records: RunRecord[], baselineTemperature: number): ComparisonGroup[] {
  const models = latestPerModel(records);
  const setupOf = setupNamer(models);
  const setupOrder = setupsOf(models).map(({ setup }) => setup);
  const groups = new Map<string, { key: [string, string, string]; models: RunRecord[] }>();
  for (const model of models) {
    const key: [string, string, string] = [model.job.dataset, model.job.architecture, setupOf(model)];
    const id = JSON.stringify(key);
    groups.set(id, { key, models: [...(groups.get(id)?.models ?? []), model] });
  }
  const datasetOrder = [...new Set([...groups.values()].map(({ key: [dataset, architecture] }) => JSON.stringify([dataset, architecture])))];
  const rank = ([dataset, architecture, setup]: [string, string, string]) => [datasetOrder.indexOf(JSON.stringify([dataset, architecture])), setupOrder.indexOf(setup)];
  return [...groups.values()]
    .sort((a, b) => {
      const [da, sa] = rank(a.key);
      const [db, sb] = rank(b.key);
      return da! - db! || sa! - sb!;
    })
    .map(({ key: [dataset, architecture, setup], models: group }) => compareGroup(dataset, architecture, setup, group, baselineTemperature));
}

function compareGroup(dataset: string, architecture: string, setup: string, models: RunRecord[], baselineTemperature: number): ComparisonGroup {
  const base = { dataset, architecture, setup, baselineTemperature };
  const T = formatNumber(baselineTemperature);
  const accuracies: Accuracies = new Map();
  const labels: string[] = [];
  for (const model of models.filter((record) => record.status === 'ok')) {
    const bySeed = accuracies.get(model.job.temperature) ?? new Map<number, Map<string, number>>();
    const byLabel = bySeed.get(model.job.seed) ?? new Map<string, number>();
    for (const { label, accuracy } of measurementsOf(model)) {
      if (!labels.includes(label)) labels.push(label);
      if (!byLabel.has(label)) byLabel.set(label, accuracy * 100);
    }
    bySeed.set(model.job.seed, byLabel);
    accuracies.set(model.job.temperature, bySeed);
  }
  // Temperatures whose every seed failed still get rows, with 0 pairs, so the gap shows.
  const others = [...new Set(models.map((record) => record.job.temperature))].filter((t) => t !== baselineTemperature).sort((a, b) => a - b);
  const baseline = accuracies.get(baselineTemperature);
  if (!baseline) return { ...base, nothingToCompare: `no model finished at the baseline T = ${T}`, comparisons: [] };
  if (others.length === 0) return { ...base, nothingToCompare: `only T = ${T} was trained: no other temperature to compare`, comparisons: [] };
  const comparisons = labels.flatMap((label) =>
    others.map((temperature): PairedComparison => {
      const pairs = [...(accuracies.get(temperature) ?? new Map<number, Map<string, number>>()).entries()].flatMap(([seed, byLabel]) => {
        const value = byLabel.get(label);
        const reference = baseline.get(seed)?.get(label);
        return value === undefined || reference === undefined ? [] : [{ value, baseline: reference }];
      });
      return { label, temperature, ...pairedDifference(pairs) };
    }),
  );
  return { ...base, nothingToCompare: undefined, comparisons };
}

/** `+1.25`, `-0.40`, `0.00`: a difference in percentage points with its sign. */
export function formatDifference(value: number | null): string {
  if (value === null) return '';
  const magnitude = Math.abs(value).toFixed(2);
  return magnitude === '0.00' ? magnitude : `${value > 0 ? '+' : '-'}${magnitude}`;
}

/** The group's table as text cells, header first; summary.md and index.html both show it. */
export function comparisonCells(group: ComparisonGroup): string[][] {
  const header = ['label', 'temperature', 'pairs', 'difference (pp)', '95% interval', 'distinguishable from 0'];
  const rows = group.comparisons.map((comparison) => [
    comparison.label,
    formatNumber(comparison.temperature),
    String(comparison.pairs),
    comparison.pairs === 0 ? 'no pairs' : formatDifference(comparison.meanDifference),
    comparison.interval === null ? 'none' : `[${formatDifference(comparison.interval.low)}, ${formatDifference(comparison.interval.high)}]`,
    comparison.distinguishable === null ? 'no interval' : comparison.distinguishable ? 'yes' : 'no',
  ]);
  return [header, ...rows];
}

/** The group's result in words: which differences are distinguishable from 0 at the 95% level, which are not, which have no interval. */
export function comparisonVerdict(group: ComparisonGroup): string {
  if (group.nothingToCompare) return `Nothing to compare: ${group.nothingToCompare}.`;
  const name = (comparison: PairedComparison) => `${comparison.label} at T = ${formatNumber(comparison.temperature)}`;
  const yes = group.comparisons.filter((comparison) => comparison.distinguishable === true);
  const no = group.comparisons.filter((comparison) => comparison.distinguishable === false);
  const none = group.comparisons.filter((comparison) => comparison.distinguishable === null);
  if (yes.length === 0 && no.length === 0) {
    return 'No interval can be given: no temperature has two or more seeds paired with the baseline, so these differences cannot be told apart from seed-to-seed noise.';
  }
  const sentences = [
    yes.length === 0
      ? 'No difference is distinguishable from 0 at the 95% level.'
      : `Distinguishable from 0 at the 95% level (interval excludes 0): ${yes.map((c) => `${name(c)} (${formatDifference(c.meanDifference)})`).join(', ')}.`,
    ...(yes.length > 0 && no.length > 0 ? [`Not distinguishable from 0 (interval includes 0): ${no.map(name).join(', ')}.`] : []),
    ...(yes.length > 0 && no.length === 0 ? ['Every difference with an interval is distinguishable.'] : []),
    ...(none.length > 0 ? [`No interval (fewer than two pairs): ${none.map(name).join(', ')}.`] : []),
  ];
  return sentences.join(' ');
}

/** `mnist / cnn-small`, with `, setup <name>` when the folder holds several setups. */
export function groupTitle(group: Pick<ComparisonGroup, 'dataset' | 'architecture' | 'setup'>): string {
  return `${group.dataset} / ${group.architecture}${group.setup === '' ? '' : `, setup ${group.setup}`}`;
}

/** How to read the comparison tables. */
export function comparisonNote(baselineTemperature: number): string {
  const T = formatNumber(baselineTemperature);
  return (
    `Accuracy at each temperature minus accuracy at the baseline T = ${T}, in percentage points (pp), paired by seed: for every seed ` +
    `measured at both temperatures (same dataset, architecture and setup), d = acc(T) - acc(T = ${T}). The table gives the mean d, its 95% ` +
    `confidence interval (Student t over the pairs: mean ± t(0.975, pairs - 1) · std / sqrt(pairs)) and whether that interval excludes 0. ` +
    `Seeds that failed or are missing at either temperature are left out; pairs counts the rest. With fewer than two pairs no interval can be given. ` +
    `The baseline is set by report.baselineTemperature in the config or temper report --baseline.`
  );
}
