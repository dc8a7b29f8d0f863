// runs.csv: the long-format view of the records, one row per (run, attack, eps) plus a clean row per run.
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { attackLabels, attackLossOf, CLEAN_LABEL, corruptionLabel } from '../config/grid.js';
import type { AttackConfig } from '../config/schema.js';
import type { AttackResult, Job, RunRecord } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { setupNamer } from './models.js';
import { axisValueText, settingAt } from '../config/sweep.js';

/** Column order is part of the contract (SPEC "Outputs"): new columns go at the end, before one column per sweep axis. */
export const RUNS_CSV_COLUMNS = [
  'dataset',
  'architecture',
  'temperature',
  'seed',
  'attack',
  'eps',
  'loss',
  'loss_temperature',
  'accuracy',
  'n',
  'zero_grad_fraction',
  'status',
  'run_id',
  'label',
  'steps',
  'step_size',
  'restarts',
  'random_start',
  'epochs',
  'final_train_loss',
  'train_seconds',
  'eval_seconds',
  'backend',
  'failure_reason',
  'norm',
  'target',
  'access',
  'severity',
  'masking',
  'params',
  'ece',
  'nll',
  'ece_t1',
  'nll_t1',
  'adversarial_training',
  'setup',
] as const;

type Column = (typeof RUNS_CSV_COLUMNS)[number];
type Row = Partial<Record<Column, string>>;
type Params = AttackResult['params'];

const FRACTION_DECIMALS = 6;
const SECONDS_DECIMALS = 3;
// Attack config fields that have their own columns; the rest are attack parameters.
const COMMON_ATTACK_KEYS = new Set(['name', 'eps', 'loss', 'lossTemperature']);

/** A number rounded to at most `maxDecimals` without float noise (0.1 + 0.2 -> "0.3"); missing -> "". */
export function formatNumber(value: number | null | undefined, maxDecimals = 10): string {
  if (value === null || value === undefined) return '';
  if (!Number.isFinite(value)) return String(value);
  return String(Number(value.toFixed(maxDecimals)));
}

/** The header: the contract's columns, then one per sweep axis of the records (`training.labelSmoothing`), first seen first. */
export function runsCsvHeader(records: RunRecord[]): string[] {
  return [...RUNS_CSV_COLUMNS, ...sweepAxesOf(records)];
}

/** Rows in the order of `runsCsvHeader(records)`. */
export function runsCsvRows(records: RunRecord[]): string[][] {
  // The same setup names as the tables, so a script can join a row to its table row.
  const setupOf = setupNamer(records);
  const axes = sweepAxesOf(records);
  return records.flatMap((record) => {
    const run = { ...runColumns(record), setup: setupOf(record) };
    // Read from the resolved settings, so a record written before the setting became an axis has its value too.
    const axisCells = axes.map((key) => axisValueText(settingAt(record.job, key)));
    const cells = record.status === 'ok' ? measuredCells(record) : plannedCells(record);
    return cells.map((cell) => {
      const row: Row = { ...run, ...cell };
      return [...RUNS_CSV_COLUMNS.map((column) => row[column] ?? ''), ...axisCells];
    });
  });
}

/** Writes `<outDir>/runs.csv` (header row first) and returns its path. */
export function writeRunsCsv(outDir: string, records: RunRecord[]): string {
  const path = join(outDir, 'runs.csv');
  writeFileAtomic(path, stringify([runsCsvHeader(records), ...runsCsvRows(records)]));
  return path;
}

function sweepAxesOf(records: RunRecord[]): string[] {
  return [...new Set(records.flatMap((record) => Object.keys(record.job.sweep ?? {})))];
}

// Columns that describe the trained model, repeated on each of its rows.
function runColumns(record: RunRecord): Row {
  const { job } = record;
  return {
    dataset: job.dataset,
    architecture: job.architecture,
    temperature: formatNumber(job.temperature),
    seed: String(job.seed),
    status: record.status,
    run_id: record.runId,
    epochs: String(job.training.epochs),
    final_train_loss: formatNumber(record.epochLosses.at(-1), FRACTION_DECIMALS),
    train_seconds: formatNumber(record.timings.trainSeconds, SECONDS_DECIMALS),
    eval_seconds: formatNumber(record.timings.evalSeconds, SECONDS_DECIMALS),
    backend: record.backend,
    failure_reason: record.failureReason ?? '',
    adversarial_training: adversarialTraining(job.training.adversarial),
  };
}

/** `pgd eps=0.3 steps=7 ce(T=train) ratio=1`, or "" without adversarial training. */
function adversarialTraining(config: Job['training']['adversarial']): string {
  if (!config) return '';
  const loss = config.loss === 'ce' ? `ce(T=${config.lossTemperature})` : config.loss;
  const steps = config.attack === 'pgd' ? ` steps=${config.steps}` : '';
  return `${config.attack} eps=${formatNumber(config.eps)}${steps} ${loss} ratio=${formatNumber(config.ratio)}`;
}

function measuredCells(record: RunRecord): Row[] {
  const calibration = record.calibration;
  const clean: Row = {
    ...cleanCell(),
    accuracy: formatNumber(record.cleanAccuracy, FRACTION_DECIMALS),
    n: formatNumber(record.evalSamples),
    ...(calibration
      ? {
          ece: formatNumber(calibration.trainTemperature.ece, FRACTION_DECIMALS),
          nll: formatNumber(calibration.trainTemperature.nll, FRACTION_DECIMALS),
          ece_t1: formatNumber(calibration.unitTemperature.ece, FRACTION_DECIMALS),
          nll_t1: formatNumber(calibration.unitTemperature.nll, FRACTION_DECIMALS),
        }
      : {}),
  };
  return [
    clean,
    ...record.attacks.map((result) => ({
      attack: result.attack,
      eps: result.kind === 'corruption' ? '' : formatNumber(result.eps),
      loss: result.loss,
      loss_temperature: formatNumber(result.lossTemperature),
      accuracy: formatNumber(result.robustAccuracy, FRACTION_DECIMALS),
      n: String(result.n),
      zero_grad_fraction: formatNumber(result.zeroGradFraction, FRACTION_DECIMALS),
      label: result.label,
      ...paramCells(result.params),
      norm: result.norm ?? '',
      target: result.target ?? '',
      access: result.access ?? '',
      severity: formatNumber(result.severity),
      masking: (result.masking ?? []).join(';'),
    })),
  ];
}

// A failed run has no numbers, but keeps every planned cell so the gap shows up in the table.
function plannedCells(record: RunRecord): Row[] {
  const labels = attackLabels(record.job.attacks);
  return [
    cleanCell(),
    ...record.job.attacks.flatMap((attack, a) =>
      attack.eps.map((eps, e) => ({
        attack: attack.name,
        eps: formatNumber(eps),
        ...plannedLoss(attack, record.job.temperature),
        label: labels[a][e],
        ...paramCells(attackParams(attack)),
        ...('target' in attack ? { target: attack.target } : {}),
      })),
    ),
    ...(record.job.corruptions
      ? record.job.corruptions.types.flatMap((type) =>
          record.job.corruptions!.severities.map((severity) => ({ attack: type, label: corruptionLabel(type, severity), severity: String(severity) })),
        )
      : []),
  ];
}

function plannedLoss(attack: AttackConfig, temperature: number): Row {
  const { loss, lossTemperature } = attackLossOf(attack);
  return { loss, loss_temperature: formatNumber(lossTemperature === 'train' ? temperature : lossTemperature) };
}

function cleanCell(): Row {
  return { attack: CLEAN_LABEL, eps: '0', label: CLEAN_LABEL };
}

function attackParams(attack: AttackConfig): Params {
  return Object.fromEntries(Object.entries(attack).filter(([key]) => !COMMON_ATTACK_KEYS.has(key)));
}

function paramCells(params: Params): Row {
  return {
    params: Object.keys(params).length > 0 ? JSON.stringify(params) : '',
    steps: formatParam(params.steps),
    step_size: formatParam(params.stepSize),
    restarts: formatParam(params.restarts),
    random_start: formatParam(params.randomStart),
  };
}

function formatParam(value: Params[string] | undefined): string {
  return typeof value === 'number' ? formatNumber(value) : value === undefined ? '' : String(value);
}
