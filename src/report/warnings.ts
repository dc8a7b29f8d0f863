// Gradient-masking warnings: a model trained at high T saturates a CE(T=1) attack's softmax, so float32 input gradients vanish.
import type { AttackResult, MaskingFlag, RunRecord } from '../types.js';
import { cellStats, type CellStats } from './cells.js';
import { formatNumber } from './runs-csv.js';
import { latestPerModel, setupNamer } from './models.js';

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
  const rowOf = (cell: CellStats) => results.get(rowKey(cell));
  const normOf = (cell: CellStats) => rowOf(cell)?.norm ?? 'linf';
  // Other cells of the same model at the same eps and norm: the attacks a flagged cell is compared with.
  const beside = (cell: CellStats) =>
    cells.filter(
      (other) =>
        other.dataset === cell.dataset &&
        other.architecture === cell.architecture &&
        other.setup === cell.setup &&
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
      setup: cell.setup,
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

function rowKey(cell: Pick<CellStats, 'dataset' | 'architecture' | 'temperature' | 'label'>): string {
  return JSON.stringify([cell.dataset, cell.architecture, cell.temperature, cell.label]);
}

/** The first finished record's row for each cell: what the cell is (norm, access, params), which cells do not keep. */
function resultsByCell(records: RunRecord[]): Map<string, AttackResult> {
  const rows = new Map<string, AttackResult>();
  for (const record of latestPerModel(records).filter((r) => r.status === 'ok')) {
    for (const row of record.attacks) {
      const key = rowKey({ ...record.job, label: row.label });
      if (!rows.has(key)) rows.set(key, row);
    }
  }
  return rows;
}

/** One sentence for people: what was zero, why it matters, and the CW-margin number to compare with if there is one. */
export function formatWarning(warning: GradientMaskingWarning): string {
  return `${warning.dataset} / ${warning.architecture}${setupPart(warning.setup)}, T=${formatNumber(warning.temperature)}: ${warningMessage(warning)}`;
}

function warningMessage(warning: GradientMaskingWarning): string {
  const under = warning.firstMember ? `${warning.firstMember}, the first member of ${warning.label}` : warning.label;
  const zero = `${(warning.zeroGradFraction * 100).toFixed(1)}% of input gradients were exactly zero under ${under}`;
  const advice = `its accuracy (${warning.accuracy.toFixed(2)}%) may reflect gradient masking rather than robustness; compare with a CW-margin attack`;
  const comparisons = warning.cwComparisons.map(({ label, accuracy }) => `${label} gives ${accuracy.toFixed(2)}%`).join(', ');
  return `${zero} — ${advice}${comparisons ? ` (at the same eps, ${comparisons})` : ''}`;
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

/** The masking flags of one trained model, or (for records written before the audit) of one model group's cells. */
export interface MaskingFinding {
  dataset: string;
  architecture: string;
  /** "" when the folder holds one setup (see setupNamer). */
  setup: string;
  temperature: number;
  /** The seed whose audit raised the flags; undefined for zero-gradient warnings, which are means over the seeds. */
  seed?: number;
  /** Each flag's first row is the number it casts doubt on (the audit marks that row in runs.csv). */
  flags: MaskingFlag[];
}

/**
 * Every masking finding, once: each model's audit flags (newest record per model), and for records written before the
 * audit existed, the zero-gradient warnings of their cells (the audit's zero-gradient check would repeat those).
 */
export function maskingFindings(records: RunRecord[]): MaskingFinding[] {
  const latest = latestPerModel(records);
  const setupOf = setupNamer(latest);
  const models = latest.filter((record) => record.status === 'ok');
  const audited: MaskingFinding[] = models
    .filter((record) => record.masking && record.masking.flags.length > 0)
    .map((record) => {
      const { dataset, architecture, temperature, seed } = record.job;
      return { dataset, architecture, setup: setupOf(record), temperature, seed, flags: record.masking!.flags };
    });
  const unaudited = new Map<string, MaskingFinding>();
  for (const warning of gradientMaskingWarnings(models.filter((record) => !record.masking))) {
    const { dataset, architecture, setup, temperature } = warning;
    const key = JSON.stringify([dataset, architecture, setup, temperature]);
    const finding = unaudited.get(key) ?? { dataset, architecture, setup, temperature, flags: [] };
    finding.flags.push({ check: 'zero-gradient', rows: [warning.label], message: warningMessage(warning) });
    unaudited.set(key, finding);
  }
  return [...audited, ...unaudited.values()];
}

/** The key of one table cell or plot point in `maskedCells`; the temperature as the tables write it (`formatNumber`). */
export function cellKey(dataset: string, architecture: string, setup: string, temperature: string, label: string): string {
  return JSON.stringify([dataset, architecture, setup, temperature, label]);
}

/** The checks that cast doubt on each cell (keyed by `cellKey`), over all seeds: the first row of every flag. */
export function maskedCells(findings: MaskingFinding[]): Map<string, MaskingFlag['check'][]> {
  const cells = new Map<string, MaskingFlag['check'][]>();
  for (const { dataset, architecture, setup, temperature, flags } of findings) {
    for (const { check, rows } of flags) {
      const key = cellKey(dataset, architecture, setup, formatNumber(temperature), rows[0]!);
      const checks = cells.get(key) ?? [];
      if (!checks.includes(check)) checks.push(check);
      cells.set(key, checks);
    }
  }
  return cells;
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
