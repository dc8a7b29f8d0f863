// Gradient-masking warnings: a model trained at high T saturates a CE(T=1) attack's softmax, so float32 input gradients vanish.
import type { AttackResult, RunRecord } from '../types.js';
import { cellStats, type CellStats } from './cells.js';
import { formatNumber } from './runs-csv.js';
import { latestPerModel } from './models.js';

/** A cell is flagged when more than this share of its input gradients were exactly zero (mean over seeds). */
export const ZERO_GRAD_WARNING_THRESHOLD = 0.1;

/**
 * An ensemble whose zero gradients are its first member's is not flagged when it leaves no more than this many
 * percentage points above the strongest margin-loss attack at the same eps (two attacks of similar strength differ by
 * a few examples; the masking audit's black-box margin is the same 2 points).
 */
export const ENSEMBLE_REACH_TOLERANCE = 2;

export interface GradientMaskingWarning {
  dataset: string;
  architecture: string;
  temperature: number;
  label: string;
  eps: number;
  zeroGradFraction: number;
  /** Mean accuracy in percent under the flagged attack. */
  accuracy: number;
  /** CW-margin attacks on the same models at the same eps (the margin is unchanged by T, so it cannot be masked this way). */
  cwComparisons: { label: string; accuracy: number }[];
  /** For an ensemble: the member whose gradients these were (the first; later members see only its survivors). */
  firstMember?: string;
}

/**
 * Every (dataset, architecture, temperature, attack label) whose mean zero-gradient share exceeds the threshold, except
 * an ensemble (autoattack) that reaches the margin attacks' number: its zero-gradient share is its first member's
 * (APGD-CE), and members with a scale-invariant loss (CW margin, DLR) do not depend on those gradients.
 */
export function gradientMaskingWarnings(records: RunRecord[]): GradientMaskingWarning[] {
  const cells = cellStats(records);
  const results = resultsByCell(records);
  const rowOf = (cell: CellStats) => results.get(cellKey(cell));
  const normOf = (cell: CellStats) => rowOf(cell)?.norm ?? 'linf';
  // Other cells of the same model at the same eps and norm: the attacks a flagged cell is compared with.
  const beside = (cell: CellStats) =>
    cells.filter(
      (other) =>
        other.dataset === cell.dataset &&
        other.architecture === cell.architecture &&
        other.temperature === cell.temperature &&
        other.eps === cell.eps &&
        other.label !== cell.label &&
        normOf(other) === normOf(cell),
    );
  const reachesMargins = (cell: CellStats) => {
    const row = rowOf(cell);
    if (row?.access !== 'ensemble' || scaleInvariantMembers(row).length === 0) return false;
    const margins = beside(cell).filter((other) => (other.loss === 'cw' || other.loss === 'dlr') && rowOf(other)?.access !== 'ensemble');
    // With no margin attack beside it, its scale-invariant members are that comparison already.
    return margins.length === 0 || cell.meanAccuracy <= Math.min(...margins.map((m) => m.meanAccuracy)) + ENSEMBLE_REACH_TOLERANCE;
  };
  return cells
    .filter((cell) => (cell.meanZeroGradFraction ?? 0) > ZERO_GRAD_WARNING_THRESHOLD && !reachesMargins(cell))
    .map((cell) => ({
      dataset: cell.dataset,
      architecture: cell.architecture,
      temperature: cell.temperature,
      label: cell.label,
      eps: cell.eps,
      zeroGradFraction: cell.meanZeroGradFraction ?? 0,
      accuracy: cell.meanAccuracy,
      cwComparisons: beside(cell)
        .filter((other) => other.loss === 'cw')
        .map((other) => ({ label: other.label, accuracy: other.meanAccuracy })),
      ...firstMemberOf(rowOf(cell)),
    }));
}

/**
 * The members of an ensemble row (its params.attacks, "apgd100-ce(T=1) + apgd100-dlr-random + square1000-cw") that do
 * not change when the logits are rescaled: CW-margin and DLR losses, CW-L2, and FAB (its steps divide by the gradient).
 */
export function scaleInvariantMembers(row: Pick<AttackResult, 'params'>): string[] {
  const members = typeof row.params['attacks'] === 'string' ? row.params['attacks'].split(' + ') : [];
  return members.filter((member) => /-(cw|dlr)(-|$)/.test(member) || member.startsWith('cwl2-') || member.startsWith('fab'));
}

function firstMemberOf(row: AttackResult | undefined): { firstMember?: string } {
  const first = row?.access === 'ensemble' && typeof row.params['attacks'] === 'string' ? row.params['attacks'].split(' + ')[0] : undefined;
  return first ? { firstMember: first } : {};
}

function cellKey(cell: Pick<CellStats, 'dataset' | 'architecture' | 'temperature' | 'label'>): string {
  return JSON.stringify([cell.dataset, cell.architecture, cell.temperature, cell.label]);
}

/** The first finished record's row for each cell: what the cell is (norm, access, params), which cells do not keep. */
function resultsByCell(records: RunRecord[]): Map<string, AttackResult> {
  const rows = new Map<string, AttackResult>();
  for (const record of latestPerModel(records).filter((r) => r.status === 'ok')) {
    for (const row of record.attacks) {
      const key = cellKey({ ...record.job, label: row.label });
      if (!rows.has(key)) rows.set(key, row);
    }
  }
  return rows;
}

/** One sentence for people: what was zero, why it matters, and the CW-margin number to compare with if there is one. */
export function formatWarning(warning: GradientMaskingWarning): string {
  const where = `${warning.dataset} / ${warning.architecture}, T=${formatNumber(warning.temperature)}`;
  const under = warning.firstMember ? `${warning.firstMember}, the first member of ${warning.label}` : warning.label;
  const zero = `${(warning.zeroGradFraction * 100).toFixed(1)}% of input gradients were exactly zero under ${under}`;
  const advice = `its accuracy (${warning.accuracy.toFixed(2)}%) may reflect gradient masking rather than robustness; compare with a CW-margin attack`;
  const comparisons = warning.cwComparisons.map(({ label, accuracy }) => `${label} gives ${accuracy.toFixed(2)}%`).join(', ');
  return `${where}: ${zero} — ${advice}${comparisons ? ` (at the same eps, ${comparisons})` : ''}`;
}

/** One line per masking flag of each model's audit (the newest record per model), e.g. for the end of `temper run`. */
export function auditWarnings(records: RunRecord[]): string[] {
  return latestPerModel(records)
    .filter((record) => record.status === 'ok' && record.masking?.suspected)
    .flatMap((record) => {
      const { dataset, architecture, temperature, seed } = record.job;
      const where = `${dataset} / ${architecture}, T=${formatNumber(temperature)}, seed ${seed}`;
      return record.masking!.flags.map((flag) => `${where}: ${flag.check}: ${flag.message}`);
    });
}

/** Calibration per (dataset, architecture, temperature): ECE and NLL at the training T and at T = 1, mean over seeds. */
export interface CalibrationRow {
  dataset: string;
  architecture: string;
  temperature: number;
  seeds: number;
  ece: number;
  nll: number;
  eceT1: number;
  nllT1: number;
}

export function calibrationRows(records: RunRecord[]): CalibrationRow[] {
  const groups = new Map<string, RunRecord[]>();
  for (const record of latestPerModel(records).filter((r) => r.status === 'ok' && r.calibration)) {
    const key = JSON.stringify([record.job.dataset, record.job.architecture, record.job.temperature]);
    groups.set(key, [...(groups.get(key) ?? []), record]);
  }
  return [...groups.values()].map((group) => {
    const mean = (pick: (record: RunRecord) => number) => group.reduce((sum, record) => sum + pick(record), 0) / group.length;
    const { dataset, architecture, temperature } = group[0]!.job;
    return {
      dataset,
      architecture,
      temperature,
      seeds: group.length,
      ece: mean((r) => r.calibration!.trainTemperature.ece),
      nll: mean((r) => r.calibration!.trainTemperature.nll),
      eceT1: mean((r) => r.calibration!.unitTemperature.ece),
      nllT1: mean((r) => r.calibration!.unitTemperature.nll),
    };
  });
}
