// What an attack costs, from its config alone: model evaluations per image at one eps, so `temper validate` and the start
// of `temper run` can show what a sweep will spend before it spends it. A gradient (one forward and one backward pass)
// and a forward pass each count as one evaluation; `gradients` says how many of them were gradients (about three
// forward passes' work each). Counts follow the attack files: random starts are free, a final prediction is a forward.
import { attackLabels, attackName } from '../config/grid.js';
import type { AttackConfig, ExperimentConfig, InnerAttackConfig } from '../config/schema.js';
import { ensembleOf } from './autoattack.js';

export interface AttackCost {
  /** Model evaluations per image at one eps; an upper bound for ensembles and early-stopping attacks. */
  evaluationsPerImage: number;
  /** How many of those are input gradients. */
  gradients: number;
  /** How the number comes about, in words. */
  note: string;
}

/** One forward pass to pick each example's target class (targeted attacks). */
const targetPick = (target: string) => (target === 'none' ? 0 : 1);

function cost(gradients: number, forwards: number, note: string): AttackCost {
  return { evaluationsPerImage: gradients + forwards, gradients, note };
}

/** "40 steps", "40 steps x 5 restarts". */
function stepsNote(steps: number, restarts = 1): string {
  return `${steps} steps${restarts > 1 ? ` x ${restarts} restarts` : ''}`;
}

/** The cost of one row (one eps) of `config`. */
export function attackCost(config: AttackConfig | InnerAttackConfig): AttackCost {
  switch (config.name) {
    case 'fgsm':
      return cost(1, 1, 'one gradient, one prediction');
    case 'pgd':
    case 'pgd-l2':
      return cost(config.restarts * config.steps, config.restarts + targetPick(config.target), stepsNote(config.steps, config.restarts));
    case 'bim':
    case 'mifgsm':
      return cost(config.steps, 1 + targetPick(config.target), stepsNote(config.steps));
    case 'apgd':
      // Algorithm 1 evaluates the start and then every step; predictions come from the same passes.
      return cost(config.restarts * (config.steps + 1), config.restarts * targetPick(config.target), stepsNote(config.steps, config.restarts));
    case 'cw-l2':
      return cost(1 + config.binarySteps * config.steps, 1 + targetPick(config.target), `${config.binarySteps} binary-search rounds x ${config.steps} Adam steps`);
    case 'square':
      return cost(0, config.restarts * config.queries + 1, `${config.queries} queries${config.restarts > 1 ? ` x ${config.restarts} restarts` : ''}; fewer once every image of a batch is broken`);
    case 'transfer': {
      const inner = attackCost(config.attack);
      return cost(inner.gradients, inner.evaluationsPerImage - inner.gradients + 1, `${attackName(config.attack)} on the surrogate (${inner.note}), then one prediction`);
    }
    case 'autoattack': {
      const members = ensembleOf(config).map((member) => ({ name: attackName(member), cost: attackCost(member) }));
      const sum = (pick: (c: AttackCost) => number) => members.reduce((total, m) => total + pick(m.cost), 0);
      const parts = members.map((m) => `${m.name} ${formatCount(m.cost.evaluationsPerImage)}`).join(' + ');
      return cost(sum((c) => c.gradients), sum((c) => c.evaluationsPerImage - c.gradients), `${parts}; later members run only on the images still standing`);
    }
  }
}

export interface SweepCost {
  rows: { attack: string; epsCount: number; cost: AttackCost }[];
  /** Attack evaluations per image over every attack and eps of one trained model. */
  evaluationsPerImage: number;
  gradientsPerImage: number;
  /** eval.samples: the images each model is attacked on (fewer if the test split is smaller). */
  images: number;
  perModel: number;
  models: number;
  total: number;
}

/** The attack cost of a whole sweep: per image, per trained model (times eval.samples) and in total (times the models). */
export function sweepCost(config: ExperimentConfig, models: number): SweepCost {
  const labels = attackLabels(config.attacks);
  const rows = config.attacks.map((attack, i) => ({ attack: familyOf(labels[i]![0]!), epsCount: attack.eps.length, cost: attackCost(attack) }));
  const evaluationsPerImage = rows.reduce((sum, row) => sum + row.epsCount * row.cost.evaluationsPerImage, 0);
  const gradientsPerImage = rows.reduce((sum, row) => sum + row.epsCount * row.cost.gradients, 0);
  const images = config.eval.samples;
  return { rows, evaluationsPerImage, gradientsPerImage, images, perModel: evaluationsPerImage * images, models, total: evaluationsPerImage * images * models };
}

/** Lines for people: the total first, then one line per attack entry. */
export function formatSweepCost(cost: SweepCost): string[] {
  if (cost.rows.length === 0) return ['attack cost: no attacks'];
  const head =
    `attack cost: at most ${formatCount(cost.evaluationsPerImage)} model evaluations per image (${formatCount(cost.gradientsPerImage)} of them gradients) ` +
    `x ${formatCount(cost.images)} images = ${formatCount(cost.perModel)} per trained model, ${formatCount(cost.total)} for the ${formatCount(cost.models)} model${cost.models === 1 ? '' : 's'}`;
  const width = Math.max(...cost.rows.map((row) => row.attack.length));
  const lines = cost.rows.map(({ attack, epsCount, cost: c }) => {
    const each = epsCount === 1 ? '' : ` x ${epsCount} eps`;
    return `  ${attack.padEnd(width)}  ${formatCount(c.evaluationsPerImage)}${each} (${c.note})`;
  });
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
