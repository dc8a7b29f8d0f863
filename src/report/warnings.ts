// Gradient-masking warnings: a model trained at high T saturates a CE(T=1) attack's softmax, so float32 input gradients vanish.
import type { RunRecord } from '../types.js';
import { cellStats } from './cells.js';
import { formatNumber } from './runs-csv.js';
import { latestPerModel, setupNamer } from './models.js';

/** A cell is flagged when more than this share of its input gradients were exactly zero (mean over seeds). */
export const ZERO_GRAD_WARNING_THRESHOLD = 0.1;

export interface GradientMaskingWarning {
  dataset: string;
  architecture: string;
  /** "" when the folder holds one setup (see setupNamer). */
  setup: string;
  temperature: number;
  label: string;
  eps: number;
  zeroGradFraction: number;
  /** Mean accuracy in percent under the flagged attack. */
  accuracy: number;
  /** CW-margin attacks on the same models at the same eps (the margin is unchanged by T, so it cannot be masked this way). */
  cwComparisons: { label: string; accuracy: number }[];
}

/** Every (dataset, architecture, temperature, attack label) whose mean zero-gradient share exceeds the threshold. */
export function gradientMaskingWarnings(records: RunRecord[]): GradientMaskingWarning[] {
  const cells = cellStats(records);
  return cells
    .filter((cell) => (cell.meanZeroGradFraction ?? 0) > ZERO_GRAD_WARNING_THRESHOLD)
    .map((cell) => ({
      dataset: cell.dataset,
      architecture: cell.architecture,
      setup: cell.setup,
      temperature: cell.temperature,
      label: cell.label,
      eps: cell.eps,
      zeroGradFraction: cell.meanZeroGradFraction ?? 0,
      accuracy: cell.meanAccuracy,
      cwComparisons: cells
        .filter(
          (other) =>
            other.dataset === cell.dataset &&
            other.architecture === cell.architecture &&
            other.setup === cell.setup &&
            other.temperature === cell.temperature &&
            other.loss === 'cw' &&
            other.eps === cell.eps &&
            other.label !== cell.label,
        )
        .map((other) => ({ label: other.label, accuracy: other.meanAccuracy })),
    }));
}

/** One sentence for people: what was zero, why it matters, and the CW-margin number to compare with if there is one. */
export function formatWarning(warning: GradientMaskingWarning): string {
  const where = `${warning.dataset} / ${warning.architecture}${setupPart(warning.setup)}, T=${formatNumber(warning.temperature)}`;
  const zero = `${(warning.zeroGradFraction * 100).toFixed(1)}% of input gradients were exactly zero under ${warning.label}`;
  const advice = `its accuracy (${warning.accuracy.toFixed(2)}%) may reflect gradient masking rather than robustness; compare with a CW-margin attack`;
  const comparisons = warning.cwComparisons.map(({ label, accuracy }) => `${label} gives ${accuracy.toFixed(2)}%`).join(', ');
  return `${where}: ${zero} — ${advice}${comparisons ? ` (at the same eps, ${comparisons})` : ''}`;
}

/** One line per masking flag of each model's audit (the newest record per model), e.g. for the end of `temper run`. */
export function auditWarnings(records: RunRecord[]): string[] {
  const models = latestPerModel(records);
  const setupOf = setupNamer(models);
  return models
    .filter((record) => record.status === 'ok' && record.masking?.suspected)
    .flatMap((record) => {
      const { dataset, architecture, temperature, seed } = record.job;
      const where = `${dataset} / ${architecture}${setupPart(setupOf(record))}, T=${formatNumber(temperature)}, seed ${seed}`;
      return record.masking!.flags.map((flag) => `${where}: ${flag.check}: ${flag.message}`);
    });
}

/** Calibration per (dataset, architecture, temperature): ECE and NLL at the training T and at T = 1, mean over seeds. */
export interface CalibrationRow {
  dataset: string;
  architecture: string;
  /** "" when the folder holds one setup (see setupNamer). */
  setup: string;
  temperature: number;
  seeds: number;
  ece: number;
  nll: number;
  eceT1: number;
  nllT1: number;
}

export function calibrationRows(records: RunRecord[]): CalibrationRow[] {
  const groups = new Map<string, RunRecord[]>();
  const models = latestPerModel(records);
  const setupOf = setupNamer(models);
  for (const record of models.filter((r) => r.status === 'ok' && r.calibration)) {
    const key = JSON.stringify([record.job.dataset, record.job.architecture, setupOf(record), record.job.temperature]);
    groups.set(key, [...(groups.get(key) ?? []), record]);
  }
  return [...groups.values()].map((group) => {
    const mean = (pick: (record: RunRecord) => number) => group.reduce((sum, record) => sum + pick(record), 0) / group.length;
    const { dataset, architecture, temperature } = group[0]!.job;
    return {
      dataset,
      architecture,
      setup: setupOf(group[0]!),
      temperature,
      seeds: group.length,
      ece: mean((r) => r.calibration!.trainTemperature.ece),
      nll: mean((r) => r.calibration!.trainTemperature.nll),
      eceT1: mean((r) => r.calibration!.unitTemperature.ece),
      nllT1: mean((r) => r.calibration!.unitTemperature.nll),
    };
  });
}

/** ` (training.epochs=1)` after a model's name when the folder holds several setups; "" otherwise. */
export function setupPart(setup: string): string {
  return setup === '' ? '' : ` (${setup})`;
}
