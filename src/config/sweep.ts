// Sweep axes: any setting under training, data or eval as one more axis of the grid (`"sweep": {"training.labelSmoothing":
// [0, 0.1]}`). The values land in each job's resolved settings, so they are part of its identity like any setting.
import { canonicalJson } from '../util/hash.js';
import { configKeys } from './keys.js';
import { dataSchema, evalSchema, trainingSchema, type ExperimentConfig } from './schema.js';

/** The sections whose settings a sweep can vary; the other keys are axes already (datasets, ...) or attacks. */
export const SWEEP_SECTIONS = ['training', 'data', 'eval'] as const;

/** One value per axis, by key path: `{"training.labelSmoothing": 0.1}`. */
export type SweepPoint = Record<string, unknown>;

let sweepable: string[] | undefined;

/** Every key a sweep can vary: the settings under training, data and eval that hold a value, not more settings; by section, then A-Z. */
export function sweepableKeys(): string[] {
  if (!sweepable) {
    const keys = configKeys()
      .map((key) => key.path)
      .filter((path) => (SWEEP_SECTIONS as readonly unknown[]).includes(path[0]) && path.length > 1 && path.every((segment) => typeof segment === 'string'))
      .map((path) => path.join('.'));
    const section = (key: string) => (SWEEP_SECTIONS as readonly string[]).indexOf(axisPath(key)[0]!);
    sweepable = keys
      .filter((key) => !keys.some((other) => other.startsWith(`${key}.`)))
      .sort((a, b) => section(a) - section(b) || (a < b ? -1 : a > b ? 1 : 0));
  }
  return sweepable;
}

/** `training.adversarial.eps` -> `['training', 'adversarial', 'eps']`. */
export function axisPath(key: string): string[] {
  return key.split('.');
}

/** Every combination of the axes' values, the first axis outermost; one empty combination without a sweep. */
export function sweepCombinations(sweep: Record<string, unknown[]> | undefined): SweepPoint[] {
  let points: SweepPoint[] = [{}];
  for (const [key, values] of Object.entries(sweep ?? {})) {
    points = points.flatMap((point) => values.map((value) => ({ ...point, [key]: value })));
  }
  return points;
}

/** Sets each value of `point` at its key path in `target`, creating missing objects; a non-object on the way is left alone. */
export function setSweepPoint(target: Record<string, unknown>, point: SweepPoint): void {
  for (const [key, value] of Object.entries(point)) {
    const path = axisPath(key);
    let container: Record<string, unknown> = target;
    for (const segment of path.slice(0, -1)) {
      if (!Object.hasOwn(container, segment) || container[segment] === undefined) define(container, segment, {});
      const child = container[segment];
      if (child === null || typeof child !== 'object' || Array.isArray(child)) return;
      container = child as Record<string, unknown>;
    }
    define(container, path.at(-1)!, structuredClone(value));
  }
}

// defineProperty, not assignment: a key like "__proto__" stays an ordinary key.
function define(container: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(container, key, { value, enumerable: true, writable: true, configurable: true });
}

export type SweptSettings = Pick<ExperimentConfig, 'training' | 'data' | 'eval'>;

/** The config's training, data and eval with `point` applied, resolved by their schemas (the loader checked every combination). */
export function settingsAt(config: Pick<ExperimentConfig, 'training' | 'data' | 'eval'>, point: SweepPoint): SweptSettings {
  const settings: Record<string, unknown> = structuredClone({ training: config.training, data: config.data, eval: config.eval });
  if (Object.keys(point).length === 0) return settings as SweptSettings;
  setSweepPoint(settings, point);
  return { training: trainingSchema.parse(settings['training']), data: dataSchema.parse(settings['data']), eval: evalSchema.parse(settings['eval']) };
}

/** A value as labels and runs.csv show it: numbers, strings and booleans as written, lists and objects as JSON, "" when absent. */
export function axisValueText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return String(value);
  return canonicalJson(value);
}

/** `training.labelSmoothing=0.1 training.adversarial.eps=0.3`, in the sweep's order. */
export function describeSweepPoint(point: SweepPoint): string {
  return Object.entries(point)
    .map(([key, value]) => `${key}=${axisValueText(value)}`)
    .join(' ');
}

/** The setting at `key` (a sweep key path) in a job's resolved settings. */
export function settingAt(settings: Partial<SweptSettings>, key: string): unknown {
  return axisPath(key).reduce<unknown>((node, segment) => (node !== null && typeof node === 'object' && !Array.isArray(node) ? (node as Record<string, unknown>)[segment] : undefined), settings);
}
