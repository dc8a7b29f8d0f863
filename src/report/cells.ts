// Per-cell statistics over seeds, where a cell is (dataset, architecture, setup, temperature, attack label); plots and warnings read them.
import { CLEAN_LABEL } from '../config/grid.js';
import type { LossName } from '../config/schema.js';
import type { RunRecord } from '../types.js';
import { meanInterval95, meanStd, type Interval } from './stats.js';
import { latestPerModel, setupNamer } from './models.js';
import { summaryResults } from './corruption-view.js';

export interface CellStats {
  dataset: string;
  architecture: string;
  /** Settings that set these models apart from others in the folder (see setupNamer); "" when there is one setup. */
  setup: string;
  temperature: number;
  /** Pivot column, e.g. "pgd40-cw@0.3", or "clean". */
  label: string;
  /** The label without its `@eps` part, e.g. "pgd40-cw"; "clean" for clean accuracy. */
  family: string;
  eps: number;
  loss: LossName | '';
  /** Seeds that finished and measured this cell. */
  seeds: number;
  /** Accuracy in percent. */
  meanAccuracy: number;
  stdAccuracy: number;
  /** 95% confidence interval of the mean accuracy, in percent (Student t over the seeds); null below two seeds. */
  ci95Accuracy: Interval | null;
  /** Mean share of inputs whose input gradient was exactly zero, over the seeds that measured it; null if none did. */
  meanZeroGradFraction: number | null;
}

export interface Measurement {
  label: string;
  eps: number;
  loss: LossName | '';
  accuracy: number;
  zeroGradFraction: number | null;
}

/** One entry per cell measured by at least one finished run, in first-seen order; failed runs are left out. */
export function cellStats(records: RunRecord[]): CellStats[] {
  const cells = new Map<string, { first: RunRecord; setup: string; measurement: Measurement; accuracies: number[]; zeroGrads: number[] }>();
  const models = latestPerModel(records);
  const setupOf = setupNamer(models);
  for (const record of models.filter((r) => r.status === 'ok')) {
    for (const measurement of measurementsOf(record)) {
      const { dataset, architecture, temperature } = record.job;
      const setup = setupOf(record);
      const key = JSON.stringify([dataset, architecture, setup, temperature, measurement.label]);
      const cell = cells.get(key) ?? { first: record, setup, measurement, accuracies: [], zeroGrads: [] };
      cell.accuracies.push(measurement.accuracy * 100);
      if (measurement.zeroGradFraction !== null) cell.zeroGrads.push(measurement.zeroGradFraction);
      cells.set(key, cell);
    }
  }
  return [...cells.values()].map(({ first, setup, measurement, accuracies, zeroGrads }) => {
    const { mean, std } = meanStd(accuracies);
    return {
      dataset: first.job.dataset,
      architecture: first.job.architecture,
      setup,
      temperature: first.job.temperature,
      label: measurement.label,
      family: familyOf(measurement.label),
      eps: measurement.eps,
      loss: measurement.loss,
      seeds: accuracies.length,
      meanAccuracy: mean,
      stdAccuracy: std,
      ci95Accuracy: meanInterval95(accuracies),
      meanZeroGradFraction: zeroGrads.length === 0 ? null : meanStd(zeroGrads).mean,
    };
  });
}

/** "fgsm-ce(T=1)@0.3" -> "fgsm-ce(T=1)": the attack with every setting but its budget. */
export function familyOf(label: string): string {
  const at = label.lastIndexOf('@');
  return at < 0 ? label : label.slice(0, at);
}

/** Clean accuracy, then every label of the summary tables, as one record measured them. */
export function measurementsOf(record: RunRecord): Measurement[] {
  const clean: Measurement[] =
    record.cleanAccuracy === undefined
      ? []
      : [{ label: CLEAN_LABEL, eps: 0, loss: '', accuracy: record.cleanAccuracy, zeroGradFraction: null }];
  return [
    ...clean,
    ...summaryResults(record).map((result) => ({
      label: result.label,
      eps: result.eps,
      loss: result.loss,
      accuracy: result.robustAccuracy,
      zeroGradFraction: result.zeroGradFraction,
    })),
  ];
}
