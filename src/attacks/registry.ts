// Attacks register themselves by name; getAttack/listAttacks are the only doors.
import type { AttackConfig, InnerAttackConfig } from '../config/schema.js';
import type { AttackSpec, CostContext } from './attack.js';

const registry = new Map<string, AttackSpec<any>>();

export function registerAttack<C extends AttackConfig | InnerAttackConfig>(spec: AttackSpec<C>): void {
  if (registry.has(spec.name)) throw new Error(`attack "${spec.name}" is registered twice`);
  registry.set(spec.name, spec);
}

export function getAttack<C extends AttackConfig | InnerAttackConfig>(name: C['name']): AttackSpec<C> {
  const spec = registry.get(name);
  if (!spec) throw new Error(`unknown attack "${name}"; expected one of: ${[...registry.keys()].join(', ')}`);
  return spec as AttackSpec<C>;
}

/** The norm an attack's eps is measured in; a transfer attack's is that of the attack it runs on the surrogate. */
export function attackNorm(config: AttackConfig | InnerAttackConfig): 'linf' | 'l2' {
  return config.name === 'transfer' ? attackNorm(config.attack) : getAttack(config.name).norm;
}

/**
 * Upper bound on the model evaluations one image costs under `config`, in forward-pass equivalents (a forward pass is
 * 1, an input gradient 2: FORWARD_COST, GRADIENT_COST); eps does not matter. For `temper validate`'s cost estimate:
 * multiply by the eval samples and the number of eps values.
 */
export function attackCost(config: AttackConfig | InnerAttackConfig, context: CostContext): number {
  return getAttack(config.name).cost(config as never, context);
}

export function listAttacks(): AttackSpec<AttackConfig | InnerAttackConfig>[] {
  return [...registry.values()];
}
