// Values the schema accepts as numbers but that cannot be meant: pixels are in [0, 1], so an Linf budget or step above 1
// (most often 8 for 8/255) or an L2 budget above the largest distance between two images of the dataset is a unit
// mistake. Reported as config errors, with the value in pixel units as the likely fix.
import { attackNorm } from '../attacks/index.js';
import { FIXED_STEP_ATTACKS } from '../eval/masking.js';
import { formatPath, problem, type ConfigProblem, type PathSegment } from './errors.js';
import type { ExperimentConfig, InnerAttackConfig } from './schema.js';

import type { HintFor } from './errors.js';

export interface UnitContext {
  file: string;
  /** The document as written (before defaults), to name `eps` or `eps[1]` as the user wrote it. */
  input: unknown;
  /** [height, width, channels] per dataset name; without them L2 values are not checked. */
  imageShapes?: Record<string, [number, number, number]>;
  hintFor: HintFor;
}

/** Every value of the validated config that only a unit mistake could produce. */
export function unitProblems(config: ExperimentConfig, context: UnitContext): ConfigProblem[] {
  const l2Limit = largestL2Distance(config.datasets, context.imageShapes);
  const problems: ConfigProblem[] = [];
  const check = (path: PathSegment[], value: number | undefined, norm: 'linf' | 'l2', what: string) => {
    if (value === undefined) return;
    const limit = norm === 'linf' ? { value: 1, why: 'images are in [0, 1]' } : l2Limit;
    if (limit === undefined || value <= limit.value) return;
    const expected = `${what} of at most ${formatNumber(limit.value)} (${norm === 'linf' ? 'Linf' : 'L2'} in pixel units; ${limit.why})`;
    const pixels = value / 255;
    const hint = pixels <= limit.value ? `did you mean ${formatNumber(value)}/255 = ${formatNumber(pixels)}?` : 'write it in pixel units';
    problems.push(problem({ file: context.file, path: formatPath(path), expected, found: String(value), hint: [hint, context.hintFor(path, {})].filter(Boolean).join('; ') }));
  };
  const epsPaths = (path: PathSegment[], values: number[]) =>
    values.map((value, j): [PathSegment[], number] => [Array.isArray(valueAt(context.input, path)) ? [...path, j] : path, value]);
  const checkStep = (path: PathSegment[], attack: InnerAttackConfig) => {
    if ('stepSize' in attack) check([...path, 'stepSize'], attack.stepSize, attackNorm(attack), 'a step size');
  };

  config.attacks.forEach((attack, i) => {
    const at: PathSegment[] = ['attacks', i];
    for (const [path, eps] of epsPaths([...at, 'eps'], attack.eps)) check(path, eps, attackNorm(attack), 'an eps');
    if (attack.name === 'transfer') checkStep([...at, 'attack'], attack.attack);
    else if (attack.name === 'autoattack') attack.attacks?.forEach((inner, k) => checkStep([...at, 'attacks', k], inner));
    else checkStep(at, attack);
  });
  const adversarial = config.training.adversarial;
  if (adversarial) {
    check(['training', 'adversarial', 'eps'], adversarial.eps, 'linf', 'an eps');
    check(['training', 'adversarial', 'stepSize'], adversarial.stepSize, 'linf', 'a step size');
  }
  return problems;
}

/** sqrt(H * W * C) of the config's smallest images: no two images of that dataset are further apart in L2. */
function largestL2Distance(datasets: string[], shapes: UnitContext['imageShapes']): { value: number; why: string } | undefined {
  const known = datasets.filter((name) => shapes?.[name] !== undefined).map((name) => ({ name, shape: shapes![name]! }));
  if (known.length === 0) return undefined;
  const smallest = known.reduce((a, b) => (size(b.shape) < size(a.shape) ? b : a));
  const [h, w, c] = smallest.shape;
  const value = Math.sqrt(size(smallest.shape));
  return { value, why: `no two ${smallest.name} images are further apart than sqrt(${h}*${w}*${c}) = ${formatNumber(value)}` };
}

function size([h, w, c]: [number, number, number]): number {
  return h * w * c;
}

/** Three significant digits, no trailing zeros: 0.0314, 28, 55.4. */
function formatNumber(value: number): string {
  return String(Number(value.toPrecision(3)));
}

function valueAt(input: unknown, path: PathSegment[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PathSegment, unknown>)[key];
  }
  return value;
}

/**
 * Fixed-step attacks whose steps cannot add up to their eps (steps * stepSize < eps), one sentence each: legal, but
 * such a row measures its budget rather than the model (the masking audit flags it as budget-too-small).
 */
export function shortBudgets(config: ExperimentConfig): string[] {
  const lines: string[] = [];
  const check = (path: PathSegment[], attack: InnerAttackConfig, eps: number[]) => {
    if (!('stepSize' in attack) || attack.stepSize === undefined || !('steps' in attack) || !FIXED_STEP_ATTACKS.has(attack.name)) return;
    const reach = attack.steps * attack.stepSize;
    const short = eps.filter((value) => reach < value * (1 - 1e-9));
    if (short.length === 0) return;
    lines.push(
      `${formatPath(path)}: ${attack.steps} steps of ${attack.stepSize} move at most ${formatNumber(reach)}, less than eps ${short.join(', ')}; ` +
        `such a row measures the budget, not the model (use steps * stepSize >= eps)`,
    );
  };
  config.attacks.forEach((attack, i) => {
    if (attack.name === 'transfer') check(['attacks', i, 'attack'], attack.attack, attack.eps);
    else if (attack.name === 'autoattack') attack.attacks?.forEach((inner, k) => check(['attacks', i, 'attacks', k], inner, attack.eps));
    else check(['attacks', i], attack, attack.eps);
  });
  return lines;
}
