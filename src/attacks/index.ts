// Every attack file registers itself on import; add one by adding a file, a schema entry and a line here.
import './fgsm.js';
import './pgd.js';

export { getAttack, listAttacks } from './registry.js';
export { attackLoss, temperatureCrossEntropy, cwMargin } from './losses.js';
export type { AttackSpec, AttackTarget, AttackOutput } from './attack.js';
