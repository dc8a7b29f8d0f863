// Every attack file registers itself on import; add one by adding a file, a schema entry and a line here.
import './fgsm.js';
import './pgd.js';
import './pgd-l2.js';
import './bim.js';
import './mifgsm.js';
import './apgd.js';
import './cw-l2.js';
import './square.js';
import './fab.js';
import './fab-l2.js';
import './transfer.js';
import './autoattack.js';

export { attackCost, attackNorm, getAttack, listAttacks } from './registry.js';
export { FORWARD_COST, GRADIENT_COST } from './attack.js';
export { attackLoss, temperatureCrossEntropy, cwMargin, dlrLoss } from './losses.js';
export type { AttackSpec, AttackTarget, AttackOutput, CostContext } from './attack.js';
