// The results as data, for `--json`: the same cells as tables/*.csv (fractions, rounded alike), the failed runs and the
// gradient-masking flags, over every record of the folder, so a CI job can assert on them without parsing text.
import type { MaskingFlag, RunRecord } from '../types.js';
import { latestPerModel, setupNamer, setupsOf } from './models.js';
import { corruptionResultTables, resultTables, roundFraction } from './tables.js';

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
}

export function resultsSummary(records: RunRecord[]): ResultsSummary {
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
  };
}
