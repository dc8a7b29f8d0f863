// What a sweep's attacks cost, from the config alone, so `temper validate` and the start of `temper run` can show what
// a sweep will spend before it spends it. Each attack states its own cost (AttackSpec.cost, in forward-pass
// equivalents: a forward pass 1, an input gradient 2); this sums them over the attacks, eps values, images and models.
import { attackLabels } from '../config/grid.js';
import type { AttackConfig, ExperimentConfig, InnerAttackConfig } from '../config/schema.js';
import { attackCost as specCost } from './registry.js';
import type { CostContext } from './attack.js';
import { datasetSpec } from '../data/index.js';

/** The most classes among the config's datasets: the cost of FAB and of "top" targets grows with it. */
export function configClasses(config: ExperimentConfig): number {
  return Math.max(...config.datasets.map((name) => datasetSpec(name).numClasses));
}

export interface AttackCost {
  /** Forward-pass equivalents per image at one eps; an upper bound for ensembles and early-stopping attacks. */
  evaluationsPerImage: number;
}

/** The cost of one row (one eps) of `config` on a dataset of `context.classes` classes. */
export function attackCost(config: AttackConfig | InnerAttackConfig, context: CostContext): AttackCost {
  return { evaluationsPerImage: specCost(config, context) };
}

export interface SweepCost {
  /** One per attack entry; `samples` is the entry's own image budget, when it has one. */
  rows: { attack: string; epsCount: number; cost: AttackCost; samples?: number }[];
  /** Forward-pass equivalents per image over every attack and eps of one trained model. */
  evaluationsPerImage: number;
  /** eval.samples: the images each model is attacked on (fewer if the test split is smaller); the largest when it is a sweep axis. */
  images: number;
  /** Per trained model on `images` images; an attack with its own `samples` counts only those. */
  perModel: number;
  models: number;
  total: number;
}

/**
 * The attack cost of a whole sweep: per image, per trained model (times eval.samples, or an attack's own `samples`)
 * and in total (times the models). `classes` is the largest class count among the config's datasets (FAB and targeted
 * attacks grow with it).
 */
export function sweepCost(config: ExperimentConfig, models: number, classes: number): SweepCost {
  const labels = attackLabels(config.attacks);
  const rows = config.attacks.map((attack, i) => ({
    attack: familyOf(labels[i]![0]!),
    epsCount: attack.eps.length,
    cost: attackCost(attack, { classes }),
    ...(attack.samples === undefined ? {} : { samples: attack.samples }),
  }));
  const evaluationsPerImage = rows.reduce((sum, row) => sum + row.epsCount * row.cost.evaluationsPerImage, 0);
  const perModelOn = (images: number) => rows.reduce((sum, row) => sum + row.epsCount * row.cost.evaluationsPerImage * Math.min(row.samples ?? images, images), 0);
  // eval.samples may be a sweep axis: each of its values is used by the same share of the models.
  const samples = (config.sweep?.['eval.samples'] as number[] | undefined) ?? [config.eval.samples];
  const images = Math.max(...samples);
  const meanPerModel = samples.reduce((sum, n) => sum + perModelOn(n), 0) / samples.length;
  return { rows, evaluationsPerImage, images, perModel: perModelOn(images), models, total: meanPerModel * models };
}

/** Lines for people: the total first, then one line per attack entry. */
export function formatSweepCost(cost: SweepCost): string[] {
  if (cost.rows.length === 0) return ['attack cost: no attacks'];
  const subsets = cost.rows.some((row) => row.samples !== undefined && row.samples < cost.images);
  const head = subsets
    ? `attack cost: at most ${formatCount(cost.perModel)} forward passes (a gradient counts 2) per trained model on ${formatCount(cost.images)} images, ` +
      `some attacks on fewer; ${formatCount(cost.total)} for the ${formatCount(cost.models)} model${cost.models === 1 ? '' : 's'}`
    : `attack cost: at most ${formatCount(cost.evaluationsPerImage)} forward passes per image (a gradient counts 2) ` +
      `x ${formatCount(cost.images)} images = ${formatCount(cost.perModel)} per trained model, ${formatCount(cost.total)} for the ${formatCount(cost.models)} model${cost.models === 1 ? '' : 's'}`;
  const width = Math.max(...cost.rows.map((row) => row.attack.length));
  const lines = cost.rows.map(
    ({ attack, epsCount, cost: c, samples }) =>
      `  ${attack.padEnd(width)}  ${formatCount(c.evaluationsPerImage)}${epsCount === 1 ? '' : ` x ${epsCount} eps`}${samples !== undefined && samples < cost.images ? ` on ${formatCount(samples)} images` : ''}`,
  );
  return [head, ...lines];
}

function familyOf(label: string): string {
  return label.slice(0, label.lastIndexOf('@'));
}

/** 1234567 -> "1.23M", 12345 -> "12,345". */
export function formatCount(value: number): string {
  if (value >= 1e9) return `${Number((value / 1e9).toPrecision(3))}G`;
  if (value >= 1e6) return `${Number((value / 1e6).toPrecision(3))}M`;
  return value.toLocaleString('en-US');
}
