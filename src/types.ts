// Shared shapes that cross folders: a job of the grid and the record a finished job leaves.
import type { AttackConfig, CorruptionsConfig, EvalConfig, TrainingConfig, DataConfig, LossName, RankedTargetMode } from './config/schema.js';

/** One cell of the grid: one model to train, then every attack on it. */
export interface Job {
  /** Hash of everything below: equal jobs have equal ids, so a rerun skips finished ones. */
  runId: string;
  /** Hash of what determines the trained weights (not attacks or eval): names the checkpoint. */
  trainingId: string;
  /** Position in the expanded grid (stable for a given config). */
  index: number;
  experiment: string;
  dataset: string;
  architecture: string;
  temperature: number;
  seed: number;
  training: TrainingConfig;
  data: DataConfig;
  attacks: AttackConfig[];
  /** Common corruptions to evaluate on (absent: none). */
  corruptions?: CorruptionsConfig;
  eval: EvalConfig;
  /**
   * The job's values of the config's sweep axes, by key path (`{"training.labelSmoothing": 0.1}`); absent without a
   * sweep. Already part of training, data and eval, so not hashed into `runId` a second time.
   */
  sweep?: Record<string, unknown>;
}

/** Accuracy of the trained model under one attack at one eps (or clean, attack = "clean"). */
export interface AttackResult {
  /** Column name in the pivot table, unique within a config, e.g. "pgd40-ce(T=1)@0.3". */
  label: string;
  attack: string;
  eps: number;
  loss: LossName | '';
  /** Resolved temperature of the attack loss (a number even when the config said "train"). */
  lossTemperature: number | null;
  robustAccuracy: number;
  n: number;
  /** Share of inputs whose input gradient was exactly zero at the first attack step. */
  zeroGradFraction: number | null;
  params: Record<string, number | string | boolean>;
  wallSeconds: number;
  /** "corruption" rows: `attack` is the corruption type, `severity` 1-5, eps 0, no loss. Absent means "attack". */
  kind?: 'attack' | 'corruption';
  /** Norm of eps: "linf" or "l2"; "" for corruptions. */
  norm?: 'linf' | 'l2' | '';
  target?: RankedTargetMode;
  /** Gradient-based ("white-box"), score-based ("black-box"), crafted on a surrogate ("transfer"), or an ensemble. */
  access?: 'white-box' | 'black-box' | 'transfer' | 'ensemble';
  severity?: number;
  /** For corruptions: "generated" (from the seed) or the .npy file read. */
  source?: string;
  /** Masking checks (see MaskingFlag.check) this row triggered, filled in by the audit. */
  masking?: string[];
}

/** Expected calibration error (15 equal-width confidence bins) and mean negative log-likelihood, on the clean eval images. */
export interface CalibrationMetrics {
  ece: number;
  nll: number;
}

export interface Calibration {
  /** Of softmax(z / T) with T the training temperature. */
  trainTemperature: CalibrationMetrics;
  /** Of softmax(z), the temperature a deployed model is usually read at. */
  unitTemperature: CalibrationMetrics;
  bins: number;
}

/** One gradient-masking symptom found in a model's results (Athalye et al., 2018; Carlini et al., 2019). */
export interface MaskingFlag {
  check: 'budget-too-small' | 'zero-gradient' | 'iterative-not-stronger' | 'no-collapse' | 'black-box-stronger' | 'ce-above-margin';
  /** Labels of the rows that triggered it. */
  rows: string[];
  /** One sentence for people: the numbers and what they suggest. */
  message: string;
}

export interface MaskingAudit {
  /** True when any flag was raised. */
  suspected: boolean;
  flags: MaskingFlag[];
  /** Largest zero-gradient share over the white-box rows (null when there were none). */
  maxZeroGradFraction: number | null;
}

export type RunStatus = 'ok' | 'failed';

export interface RunRecord {
  runId: string;
  status: RunStatus;
  job: Job;
  /** Why a failed run failed, in words (e.g. "loss became NaN at epoch 2, step 17"). */
  failureReason?: string;
  cleanAccuracy?: number;
  evalSamples?: number;
  /** Mean training loss per finished epoch. */
  epochLosses: number[];
  attacks: AttackResult[];
  calibration?: Calibration;
  masking?: MaskingAudit;
  timings: { trainSeconds: number; evalSeconds: number; wallSeconds: number; trainImagesPerSecond?: number };
  /**
   * The trained model's checkpoint folder, when checkpoints are on: `reused` when this run loaded it instead of
   * training (timings and epochLosses are then the training run's); `problem` when one could not be loaded or saved.
   */
  checkpoint?: { path: string; reused: boolean; problem?: string };
  backend: string;
  versions: Record<string, string>;
  startedAt: string;
  finishedAt: string;
}
