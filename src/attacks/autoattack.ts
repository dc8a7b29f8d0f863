// AutoAttack: Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free
// attacks", ICML 2020. https://arxiv.org/abs/2003.01690 — the reference's version='standard' in L-infinity: APGD-CE
// (100 steps), APGD-T (targeted DLR, 100 steps, one run per target class over the 9 wrong classes with the largest clean
// logits), FAB-T (targeted, 100 iterations, the same 9 classes) and Square (5,000 queries, p_init 0.8). Only correctly
// classified examples are attacked; each attack runs only on the examples that survived all earlier ones, and an example
// is robust only if it survives every attack (the worst case per example). `version: "fast"` is a lighter ensemble and
// an `attacks` list a custom one; their labels (autoattack-fast, autoattack-custom) and params say so.
import type { AutoattackConfig, InnerAttackConfig } from '../config/schema.js';
import { ensembleVersion, innerAttackSchema } from '../config/schema.js';
import { attackLossOf, attackName } from '../config/grid.js';
import { attackSurvivors, FORWARD_COST, type AttackSpec, type CostContext } from './attack.js';
import { attackLoss } from './losses.js';
import { getAttack, registerAttack } from './registry.js';

/**
 * AutoAttack as published (version='standard'): APGD-CE, APGD-T over 9 target classes, FAB-T over 9, and Square-5000
 * on the paper's p schedule by iteration (the reference passes resc_schedule=False), its squares shared by the batch as
 * the reference's Square draws them.
 */
export const STANDARD_ENSEMBLE: InnerAttackConfig[] = [
  innerAttackSchema.parse({ name: 'apgd', loss: 'ce', steps: 100 }),
  innerAttackSchema.parse({ name: 'apgd', loss: 'dlr', steps: 100, target: 'top', restarts: 9 }),
  innerAttackSchema.parse({ name: 'fab', steps: 100, target: 'top', restarts: 9 }),
  innerAttackSchema.parse({ name: 'square', queries: 5000, rescaleSchedule: false, squares: 'shared' }),
];

/**
 * The lighter ensemble (`version: "fast"`, labelled autoattack-fast): APGD-CE, APGD-T (DLR) at one random target class
 * and Square with 1,000 queries on the p schedule rescaled to them; no FAB-T. About a tenth of the standard one's cost.
 */
export const FAST_ENSEMBLE: InnerAttackConfig[] = [
  innerAttackSchema.parse({ name: 'apgd', loss: 'ce', steps: 100 }),
  innerAttackSchema.parse({ name: 'apgd', loss: 'dlr', steps: 100, target: 'random' }),
  innerAttackSchema.parse({ name: 'square', queries: 1000 }),
];

/** The attacks an `autoattack` entry runs, in order. */
export function ensembleOf(config: Omit<AutoattackConfig, 'eps'>): InnerAttackConfig[] {
  const version = ensembleVersion(config);
  return version === 'custom' ? config.attacks! : version === 'fast' ? FAST_ENSEMBLE : STANDARD_ENSEMBLE;
}

function memberCost(member: InnerAttackConfig, context: CostContext): number {
  return getAttack<InnerAttackConfig>(member.name).cost(member as never, context);
}

export const autoattack: AttackSpec<AutoattackConfig> = {
  name: 'autoattack',
  description: 'AutoAttack, worst case per example: APGD-CE, APGD-T, FAB-T and Square-5000 as published (Croce & Hein, ICML 2020); version "fast" is lighter',
  norm: 'linf',
  access: 'ensemble',
  iterative: true,
  params: (config) => ({ version: ensembleVersion(config), attacks: ensembleOf(config).map(attackName).join(' + ') }),
  // The clean check, then every member as if no example fell before it.
  cost: (config, context) => FORWARD_COST + ensembleOf(config).reduce((sum, member) => sum + memberCost(member, context), 0),
  run({ target, images, labels, eps, config, seed, progress }) {
    const members = ensembleOf(config);
    return attackSurvivors({ target, images, labels }, members.length, { gradients: false }, (i, survivors) => {
      const inner = members[i]!;
      const stage = `${attackName(inner)} ${i + 1}/${members.length}, ${survivors.labels.shape[0]} of ${survivors.of} standing`;
      progress?.(stage);
      const { loss, lossTemperature } = attackLossOf(inner);
      const resolved = attackLoss(loss === '' ? 'cw' : loss, lossTemperature === 'train' ? target.temperature : (lossTemperature ?? 1));
      return getAttack(inner.name).run({ target, images: survivors.images, labels: survivors.labels, eps, loss: resolved, config: inner as never, seed: seed + 1009 * i, ...(progress ? { progress: (detail: string) => progress(`${stage}, ${detail}`) } : {}) });
    });
  },
};

registerAttack(autoattack);
