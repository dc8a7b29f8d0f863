// Shared shapes that cross folders: a job of the grid and the record a finished job leaves.
import type { AttackConfig, EvalConfig, TrainingConfig, DataConfig, LossName } from './config/schema.js';

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
  eval: EvalConfig;
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
