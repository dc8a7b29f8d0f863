// The results as data, for `--json`: the same cells as tables/*.csv (fractions, rounded alike), the failed runs and the
// gradient-masking flags, over every record of the folder, so a CI job can assert on them without parsing text.
import type { MaskingFlag, RunRecord } from '../types.js';
import { latestPerModel, setupNamer, setupsOf } from './models.js';
import { corruptionResultTables, resultTables, roundFraction } from './tables.js';
import { DEFAULT_BASELINE_TEMPERATURE, pairedComparisons } from './paired.js';

/** One cell of a table: a model row (dataset, architecture, setup, temperature) under one label. */
export interface ResultCell {
  /** The tables/ file the cell is in, without `.csv`. */
  table: string;
  dataset: string;
  architecture: string;
  setup: string;
  temperature: number;
  /** `clean`, an attack label such as `pgd40-cw@0.3`, `corruptions(mean)`, or a corruption label such as `fog@s3`. */
  label: string;
  /** Accuracy as a fraction in [0, 1], over the seeds that finished; null when none measured it. */
  mean: number | null;
  /** Sample standard deviation; null below two seeds. */
  std: number | null;
  /** Seeds that finished and measured the cell. */
  n: number;
  /** 95% confidence interval of the mean (Student t over the seeds: mean ± t_{0.975, n-1} · std / sqrt(n)), as fractions; null below two seeds. */
  ci95Low: number | null;
  ci95High: number | null;
  /** Seeds recorded for the row, finished or failed. */
  seeds: number;
  seedsFailed: number;
  /** Mean share of exactly-zero input gradients; null for rows without gradients. */
  zeroGradFraction: number | null;
  /** Masking-audit checks raised by this cell in any of its models. */
  masking: string[];
}

/** Which model a failure or flag belongs to. */
export interface ModelRef {
  runId: string;
  dataset: string;
  architecture: string;
  setup: string;
  temperature: number;
  seed: number;
}

export interface ResultsSummary {
  /** Trained models the views cover (one per training and eval setting; several evaluations of one model fold into one). */
  models: number;
  ok: number;
  failed: number;
  /** Distinct setups, oldest first; one entry with setup "" when every model shares one. */
  setups: Array<{ setup: string; models: number }>;
  cells: ResultCell[];
  failures: Array<ModelRef & { reason: string }>;
  masking: Array<ModelRef & Pick<MaskingFlag, 'check' | 'rows' | 'message'>>;
  /** The temperature `comparisons` pair every other with. */
  baselineTemperature: number;
  comparisons: PairedComparisonCell[];
}

/** One label at one temperature against the baseline temperature, paired by seed within (dataset, architecture, setup). */
export interface PairedComparisonCell {
  dataset: string;
  architecture: string;
  setup: string;
  label: string;
  temperature: number;
  /** Seeds measured at both temperatures. */
  pairs: number;
  /** Mean of acc(T) - acc(baseline) over the pairs, as a fraction (rounded like the CSV); null without pairs. */
  meanDifference: number | null;
  /** 95% t interval of that mean; null below two pairs. */
  ci95Low: number | null;
  ci95High: number | null;
  /** Whether the interval excludes 0; null without an interval. */
  distinguishable: boolean | null;
}

export function resultsSummary(records: RunRecord[], baselineTemperature = DEFAULT_BASELINE_TEMPERATURE): ResultsSummary {
  const models = latestPerModel(records);
  const setupOf = setupNamer(models);
  const ref = (record: RunRecord): ModelRef => {
    const { dataset, architecture, temperature, seed } = record.job;
    return { runId: record.runId, dataset, architecture, setup: setupOf(record), temperature, seed };
  };
  const cells = [...resultTables(records), ...corruptionResultTables(records)].flatMap((table) =>
    table.rows.flatMap((row) =>
      row.cells.map((cell, i) => ({
        table: table.name,
        dataset: table.dataset,
        architecture: table.architecture,
        setup: row.setup,
        temperature: row.temperature,
        label: table.labels[i]!,
        mean: roundFraction(cell.mean),
        std: roundFraction(cell.std),
        n: cell.n,
        ci95Low: roundFraction(cell.ci95?.low ?? null),
        ci95High: roundFraction(cell.ci95?.high ?? null),
        seeds: row.seeds,
        seedsFailed: row.seedsFailed,
        zeroGradFraction: roundFraction(cell.zeroGradFraction),
        masking: cell.masking,
      })),
    ),
  );
  const failed = models.filter((record) => record.status === 'failed');
  return {
    models: models.length,
    ok: models.length - failed.length,
    failed: failed.length,
    setups: setupsOf(models).map(({ setup, records: group }) => ({ setup, models: group.length })),
    cells,
    failures: failed.map((record) => ({ ...ref(record), reason: record.failureReason ?? 'no reason recorded' })),
    masking: models
      .filter((record) => record.status === 'ok')
      .flatMap((record) => (record.masking?.flags ?? []).map(({ check, rows, message }) => ({ ...ref(record), check, rows, message }))),
    baselineTemperature,
    // The comparisons work in percentage points; the JSON speaks fractions, like the cells.
    comparisons: pairedComparisons(records, baselineTemperature).flatMap(({ dataset, architecture, setup, comparisons }) =>
      comparisons.map((comparison) => ({
        dataset,
        architecture,
        setup,
        label: comparison.label,
        temperature: comparison.temperature,
        pairs: comparison.pairs,
        meanDifference: percentToFraction(comparison.meanDifference),
        ci95Low: percentToFraction(comparison.interval?.low ?? null),
        ci95High: percentToFraction(comparison.interval?.high ?? null),
        distinguishable: comparison.distinguishable,
      })),
    ),
  };
}

function percentToFraction(value: number | null): number | null {
  return value === null ? null : roundFraction(value / 100);
}
