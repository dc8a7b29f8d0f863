// Gradient-masking audit of one trained model, from its own results (Athalye, Carlini, Wagner, ICML 2018; Carlini et al.,
// "On Evaluating Adversarial Robustness", arXiv 1902.06705, section 5 checklist). Each check names the rows that raised it
// and states its evidence; checks compare attacks of the same budget only, and a budget too small to reach eps is a flag
// of its own, not evidence about the model.
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
  /** ce-above-margin: CE at T = 1 leaves this much more accuracy than a CW or DLR attack with the same budget. */
  ceMargin: 0.1,
} as const;

/** Attacks that move a fixed distance per step (a signed step in Linf, a unit-norm step in L2): steps * stepSize bounds how far they get. */
export const FIXED_STEP_ATTACKS: ReadonlySet<string> = new Set(['pgd', 'bim', 'mifgsm', 'pgd-l2']);

/** The attack whose steps a row took: the attack itself, or for a transfer row the one run on the surrogate. */
function steppingAttack(row: AttackResult): string {
  return row.attack === 'transfer' && typeof row.params['via'] === 'string' ? row.params['via'] : row.attack;
}

/**
 * How far a fixed-step attack can move from where it starts, steps * stepSize, or null when the row does not say (other
 * attacks, or a step size left to its default, which always reaches eps: eps / steps for BIM and MI-FGSM, 2.5 eps / steps for PGD-L2).
 */
export function stepReach(row: AttackResult): number | null {
  const { steps, stepSize } = row.params;
  if (!FIXED_STEP_ATTACKS.has(steppingAttack(row)) || typeof steps !== 'number' || typeof stepSize !== 'number') return null;
  return steps * stepSize;
}

/** False when steps * stepSize < eps: the attack cannot reach the edge of its eps-ball (a relative 1e-9 absorbs rounding of e.g. 30 * 0.01). */
export function reachesEps(row: AttackResult): boolean {
  const reach = stepReach(row);
  return reach === null || reach >= row.eps * (1 - 1e-9);
}

/**
 * Same budget: same attack, norm, eps and every parameter that sets the budget (steps, step size, restarts, queries,
 * random start, target); only the loss may differ, so a gap between the two rows is the loss's doing.
 */
export function sameBudget(a: AttackResult, b: AttackResult): boolean {
  const keys = [...new Set([...Object.keys(a.params), ...Object.keys(b.params)])];
  return (
    a.attack === b.attack &&
    sameEps(a, b) &&
    (a.target ?? 'none') === (b.target ?? 'none') &&
    keys.every((key) => a.params[key] === b.params[key])
  );
}

/** Same eps and norm, on the same images (an attack with its own `samples` sees only the first of them). */
function sameEps(a: AttackResult, b: AttackResult): boolean {
  return a.eps === b.eps && (a.norm ?? 'linf') === (b.norm ?? 'linf') && a.n === b.n;
}

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
  // Rows whose steps cannot reach eps say nothing about the model; they are flagged once, then left out of every comparison.
  const reaching = (rows: AttackResult[]) => rows.filter(reachesEps);
  const flags: MaskingFlag[] = [];
  const flag = (check: MaskingFlag['check'], rows: AttackResult[], message: string) => flags.push({ check, rows: rows.map((r) => r.label), message });

  // 1. A fixed-step attack whose steps cannot add up to eps measures its own budget, not the model.
  for (const row of attacks.filter((r) => !reachesEps(r))) {
    const { steps, stepSize } = row.params as { steps: number; stepSize: number };
    flag(
      'budget-too-small',
      [row],
      `${row.label} takes ${steps} steps of ${stepSize} (${formatReach(stepReach(row)!)} in all), which cannot reach eps ${row.eps}: its ${percent(row.robustAccuracy)} measures the budget, not the model; use steps * stepSize >= eps (e.g. stepSize ${formatReach((2.5 * row.eps) / steps)} = 2.5 * eps / steps)`,
    );
  }

  // 2. Exactly-zero input gradients: the attack had nothing to follow.
  for (const row of whiteBox) {
    if ((row.zeroGradFraction ?? 0) > MASKING_THRESHOLDS.zeroGradFraction) {
      flag('zero-gradient', [row], `${percent(row.zeroGradFraction!)} of the input gradients were exactly zero under ${row.label} (accuracy ${percent(row.robustAccuracy)})`);
    }
  }

  // 3. An iterative attack should be at least as strong as one signed step with the same loss and eps.
  for (const single of whiteBox.filter((r) => r.attack === 'fgsm')) {
    const left = Math.round(single.robustAccuracy * single.n);
    if (single.robustAccuracy < MASKING_THRESHOLDS.iterativeRoom || left < MASKING_THRESHOLDS.iterativeRoomExamples) continue;
    for (const row of reaching(whiteBox)) {
      if (row.attack === 'fgsm' || row.attack === 'autoattack' || !sameEps(row, single) || row.loss !== single.loss || row.lossTemperature !== single.lossTemperature) continue;
      if (!ITERATIVE.has(row.attack) || (row.target ?? 'none') !== 'none') continue;
      if (row.robustAccuracy >= single.robustAccuracy - MASKING_THRESHOLDS.iterativeMargin) {
        flag('iterative-not-stronger', [row, single], `${row.label} leaves ${percent(row.robustAccuracy)}, no lower than single-step ${single.label} (${percent(single.robustAccuracy)})`);
      }
    }
  }

  // 4. Accuracy must fall towards chance as eps grows: at Linf eps 0.5 (or L2 0.5 * sqrt(d)) every image can become grey.
  const curves = new Map<string, AttackResult[]>();
  for (const row of reaching(attacks)) curves.set(curveOf(row.label), [...(curves.get(curveOf(row.label)) ?? []), row]);
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

  // 5. Black-box or transfer attacks (no gradients of this model) should not beat the strongest white-box one.
  for (const outside of reaching(attacks).filter((r) => r.access === 'black-box' || r.access === 'transfer')) {
    const rivals = reaching(whiteBox).filter((row) => sameEps(row, outside));
    if (rivals.length === 0) continue;
    const strongest = rivals.reduce((a, b) => (b.robustAccuracy < a.robustAccuracy ? b : a));
    if (strongest.robustAccuracy > outside.robustAccuracy + MASKING_THRESHOLDS.blackBoxMargin) {
      flag('black-box-stronger', [strongest, outside], `${outside.label} (${outside.access}, no gradients of this model) leaves ${percent(outside.robustAccuracy)}, below the strongest white-box attack at that eps, ${strongest.label} (${percent(strongest.robustAccuracy)})`);
    }
  }

  // 6. Cross-entropy at T = 1 far above a scale-invariant margin loss (CW, DLR) in the same attack with the same budget:
  // only the loss differs, so the gap is the loss's. Zero gradients under CE say why (its softmax saturated).
  for (const ce of whiteBox.filter((r) => r.loss === 'ce' && r.lossTemperature === 1)) {
    const margins = whiteBox.filter((r) => (r.loss === 'cw' || r.loss === 'dlr') && sameBudget(r, ce));
    if (margins.length === 0) continue;
    const strongest = margins.reduce((a, b) => (b.robustAccuracy < a.robustAccuracy ? b : a));
    if (ce.robustAccuracy - strongest.robustAccuracy > MASKING_THRESHOLDS.ceMargin) {
      const zero = ce.zeroGradFraction;
      const why =
        zero !== null && zero > MASKING_THRESHOLDS.zeroGradFraction
          ? `${percent(zero)} of the CE input gradients were exactly zero: CE at T = 1 saturates on this model`
          : `the CE input gradients were not zero (${zero === null ? 'not measured' : percent(zero)}), so CE at T = 1 is a weaker loss here without saturating`;
      flag(
        'ce-above-margin',
        [ce, strongest],
        `${ce.label} leaves ${percent(ce.robustAccuracy)} but ${strongest.label}, the same attack and budget with a margin loss, leaves ${percent(strongest.robustAccuracy)}; ${why}`,
      );
    }
  }

  const gradients = whiteBox.map((r) => r.zeroGradFraction).filter((v): v is number => v !== null);
  return { suspected: flags.length > 0, flags, maxZeroGradFraction: gradients.length > 0 ? Math.max(...gradients) : null };
}

function formatReach(value: number): string {
  return String(Number(value.toPrecision(3)));
}

const ITERATIVE = new Set(['pgd', 'bim', 'mifgsm', 'apgd']);

/** Writes each row's triggered checks into `row.masking` (the runs.csv `masking` column). */
export function markRows(results: AttackResult[], audit: MaskingAudit): AttackResult[] {
  return results.map((row) => {
    const checks = [...new Set(audit.flags.filter((f) => f.rows[0] === row.label).map((f) => f.check))];
    return checks.length > 0 ? { ...row, masking: checks } : row;
  });
}
