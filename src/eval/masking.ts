// Gradient-masking audit of one trained model, from its own results (Athalye, Carlini, Wagner, ICML 2018; Carlini et al.,
// "On Evaluating Adversarial Robustness", arXiv 1902.06705, section 5 checklist). Each check names the rows that raised it.
import type { AttackResult, MaskingAudit, MaskingFlag } from '../types.js';

/** Thresholds of the checks; accuracies are fractions in [0, 1]. */
export const MASKING_THRESHOLDS = {
  /** zero-gradient: more than this share of a white-box attack's input gradients were exactly zero. */
  zeroGradFraction: 0.1,
  /** iterative-not-stronger: an iterative attack is flagged when its accuracy is not below single-step FGSM by more than this... */
  iterativeMargin: 0,
  /** ...provided FGSM left at least this much accuracy to take away... */
  iterativeRoom: 0.05,
  /** ...and at least this many examples (with fewer, equal counts are too likely by chance). */
  iterativeRoomExamples: 10,
  /** no-collapse: accuracy allowed above chance (1 / classes) at an eps that can turn every image into the same grey image. */
  collapseSlack: 0.1,
  /** no-collapse: accuracy may not rise by more than this as eps grows along one attack's curve. */
  curveRise: 0.02,
  /** black-box-stronger: a black-box or transfer attack beats a white-box one at the same eps by more than this. */
  blackBoxMargin: 0.02,
  /** ce-above-margin: CE at T = 1 leaves this much more accuracy than a CW or DLR attack at the same eps. */
  ceMargin: 0.1,
} as const;

export interface AuditContext {
  /** Classes of the dataset: chance accuracy is 1 / classes. */
  classes: number;
  /** Pixels x channels of one image: an L2 eps of 0.5 * sqrt(size) reaches the all-grey image from any image. */
  imageSize: number;
}

const percent = (value: number) => `${(value * 100).toFixed(1)}%`;

/** The label without `@eps`, e.g. `pgd40-ce(T=1)`. */
function curveOf(label: string): string {
  return label.slice(0, label.lastIndexOf('@'));
}

export function auditMasking(results: AttackResult[], context: AuditContext): MaskingAudit {
  const attacks = results.filter((r) => (r.kind ?? 'attack') === 'attack');
  const whiteBox = attacks.filter((r) => (r.access ?? 'white-box') === 'white-box');
  const sameBudget = (a: AttackResult, b: AttackResult) => a.eps === b.eps && (a.norm ?? 'linf') === (b.norm ?? 'linf');
  const flags: MaskingFlag[] = [];
  const flag = (check: MaskingFlag['check'], rows: AttackResult[], message: string) => flags.push({ check, rows: rows.map((r) => r.label), message });

  // 1. Exactly-zero input gradients: the attack had nothing to follow.
  for (const row of whiteBox) {
    if ((row.zeroGradFraction ?? 0) > MASKING_THRESHOLDS.zeroGradFraction) {
      flag('zero-gradient', [row], `${percent(row.zeroGradFraction!)} of the input gradients were exactly zero under ${row.label} (accuracy ${percent(row.robustAccuracy)})`);
    }
  }

  // 2. An iterative attack should be at least as strong as one signed step with the same loss and budget.
  for (const single of whiteBox.filter((r) => r.attack === 'fgsm')) {
    const left = Math.round(single.robustAccuracy * single.n);
    if (single.robustAccuracy < MASKING_THRESHOLDS.iterativeRoom || left < MASKING_THRESHOLDS.iterativeRoomExamples) continue;
    for (const row of whiteBox) {
      if (row.attack === 'fgsm' || row.attack === 'autoattack' || !sameBudget(row, single) || row.loss !== single.loss || row.lossTemperature !== single.lossTemperature) continue;
      if (!ITERATIVE.has(row.attack) || (row.target ?? 'none') !== 'none') continue;
      if (row.robustAccuracy >= single.robustAccuracy - MASKING_THRESHOLDS.iterativeMargin) {
        flag('iterative-not-stronger', [row, single], `${row.label} leaves ${percent(row.robustAccuracy)}, no lower than single-step ${single.label} (${percent(single.robustAccuracy)})`);
      }
    }
  }

  // 3. Accuracy must fall towards chance as eps grows: at Linf eps 0.5 (or L2 0.5 * sqrt(d)) every image can become grey.
  const curves = new Map<string, AttackResult[]>();
  for (const row of attacks) curves.set(curveOf(row.label), [...(curves.get(curveOf(row.label)) ?? []), row]);
  const ceiling = 1 / context.classes + MASKING_THRESHOLDS.collapseSlack;
  for (const rows of curves.values()) {
    const sorted = [...rows].sort((a, b) => a.eps - b.eps);
    const largest = sorted.at(-1)!;
    const large = (largest.norm ?? 'linf') === 'l2' ? 0.5 * Math.sqrt(context.imageSize) : 0.5;
    if (largest.eps >= large && largest.robustAccuracy > ceiling) {
      flag('no-collapse', [largest], `${largest.label} leaves ${percent(largest.robustAccuracy)} at an eps that can turn every image into the same grey image (chance is ${percent(1 / context.classes)})`);
    }
    for (let i = 1; i < sorted.length; i++) {
      const [smaller, bigger] = [sorted[i - 1]!, sorted[i]!];
      if (bigger.robustAccuracy > smaller.robustAccuracy + MASKING_THRESHOLDS.curveRise) {
        flag('no-collapse', [bigger, smaller], `accuracy rose from ${percent(smaller.robustAccuracy)} at ${smaller.label} to ${percent(bigger.robustAccuracy)} at ${bigger.label}: a larger budget should never help the model`);
      }
    }
  }

  // 4. Black-box or transfer attacks (no gradients of this model) should not beat the strongest white-box one.
  for (const outside of attacks.filter((r) => r.access === 'black-box' || r.access === 'transfer')) {
    const rivals = whiteBox.filter((row) => sameBudget(row, outside));
    if (rivals.length === 0) continue;
    const strongest = rivals.reduce((a, b) => (b.robustAccuracy < a.robustAccuracy ? b : a));
    if (strongest.robustAccuracy > outside.robustAccuracy + MASKING_THRESHOLDS.blackBoxMargin) {
      flag('black-box-stronger', [strongest, outside], `${outside.label} (${outside.access}, no gradients of this model) leaves ${percent(outside.robustAccuracy)}, below the strongest white-box attack at that eps, ${strongest.label} (${percent(strongest.robustAccuracy)})`);
    }
  }

  // 5. Cross-entropy at T = 1 far above a scale-invariant margin loss (CW, DLR) with the same attack and budget: the
  // softmax saturated.
  for (const ce of whiteBox.filter((r) => r.loss === 'ce' && r.lossTemperature === 1)) {
    const margins = whiteBox.filter((r) => (r.loss === 'cw' || r.loss === 'dlr') && r.attack === ce.attack && sameBudget(r, ce));
    if (margins.length === 0) continue;
    const strongest = margins.reduce((a, b) => (b.robustAccuracy < a.robustAccuracy ? b : a));
    if (ce.robustAccuracy - strongest.robustAccuracy > MASKING_THRESHOLDS.ceMargin) {
      flag('ce-above-margin', [ce, strongest], `${ce.label} leaves ${percent(ce.robustAccuracy)} but ${strongest.label} leaves ${percent(strongest.robustAccuracy)} at the same eps: CE at T = 1 saturates on this model`);
    }
  }

  const gradients = whiteBox.map((r) => r.zeroGradFraction).filter((v): v is number => v !== null);
  return { suspected: flags.length > 0, flags, maxZeroGradFraction: gradients.length > 0 ? Math.max(...gradients) : null };
}

const ITERATIVE = new Set(['pgd', 'bim', 'mifgsm', 'apgd']);

/** Writes each row's triggered checks into `row.masking` (the runs.csv `masking` column). */
export function markRows(results: AttackResult[], audit: MaskingAudit): AttackResult[] {
  return results.map((row) => {
    const checks = [...new Set(audit.flags.filter((f) => f.rows[0] === row.label).map((f) => f.check))];
    return checks.length > 0 ? { ...row, masking: checks } : row;
  });
}
