// Views count trained models, not evaluations: records of one model (same training id and eval settings, e.g. a
// rerun with new attacks that reused its checkpoint) fold into one, newest measurement first.
//
// A results folder may hold records of several resolved configs (a `--set` rerun, a merge). Its views cover every
// record, and models whose training, data or eval settings differ are never averaged together: each such set of
// settings is a "setup", named by the settings on which the folder's records differ (e.g. `training.epochs=1`).
import type { AttackResult, Job, RunRecord } from '../types.js';
import { canonicalJson } from '../util/hash.js';

/** One record per trained model and eval setting: the newest record's status and clean accuracy, every attack label it or an older ok record measured. */
export function latestPerModel(records: RunRecord[]): RunRecord[] {
  const byModel = new Map<string, RunRecord[]>();
  for (const record of records) {
    const key = modelKey(record.job);
    byModel.set(key, [...(byModel.get(key) ?? []), record]);
  }
  return [...byModel.values()].map((group) => {
    if (group.length === 1) return group[0]!;
    const newestFirst = [...group].sort((a, b) => Date.parse(b.finishedAt) - Date.parse(a.finishedAt));
    const newest = newestFirst[0]!;
    if (newest.status !== 'ok') return newest;
    const attacks = new Map<string, AttackResult>();
    for (const record of newestFirst.filter((r) => r.status === 'ok')) {
      for (const result of record.attacks) if (!attacks.has(result.label)) attacks.set(result.label, result);
    }
    // Keep the newest record's column order, then labels only older evaluations measured.
    return { ...newest, attacks: [...attacks.values()] };
  });
}

/** What makes two jobs one model in the views: the same trained weights (training id) measured with the same eval settings. */
export function modelKey(job: Pick<Job, 'runId' | 'trainingId' | 'eval'>): string {
  // Records written before training ids existed stand alone; other eval settings measure other images, so another model row.
  return `${job.trainingId ?? job.runId} ${canonicalJson(job.eval ?? null)}`;
}

/** The settings besides the grid axes (dataset, architecture, temperature, seed) and the attacks that decide a model's numbers. */
function settingsOf(record: RunRecord): Record<string, unknown> {
  return { training: record.job.training, data: record.job.data, eval: record.job.eval };
}

/**
 * Names each record's setup by the settings on which `records` differ, as `path=value` pairs joined by spaces
 * (`training.epochs=1 eval.samples=200`); "" for every record when they all share one setup.
 */
export function setupNamer(records: RunRecord[]): (record: RunRecord) => string {
  const paths = differingPaths(records.map(settingsOf));
  return (record) => paths.map((path) => `${path.join('.')}=${describeValue(valueAt(settingsOf(record), path))}`).join(' ');
}

/** The distinct setups of `records`, oldest first (by the earliest record of each), with their models. */
export function setupsOf(records: RunRecord[]): Array<{ setup: string; records: RunRecord[] }> {
  const name = setupNamer(records);
  const groups = new Map<string, RunRecord[]>();
  for (const record of records) groups.set(name(record), [...(groups.get(name(record)) ?? []), record]);
  const earliest = (group: RunRecord[]) => Math.min(...group.map((record) => Date.parse(record.finishedAt)).filter(Number.isFinite));
  return [...groups.entries()]
    .map(([setup, group]) => ({ setup, records: group }))
    .sort((a, b) => earliest(a.records) - earliest(b.records) || (a.setup < b.setup ? -1 : a.setup > b.setup ? 1 : 0));
}

// An object present in every record is compared key by key; anything else (a value, a list, an object absent somewhere) as a whole.
function differingPaths(values: unknown[], prefix: string[] = []): string[][] {
  if (values.every(isPlainObject)) {
    const keys = [...new Set(values.flatMap((value) => Object.keys(value)))];
    return keys.flatMap((key) => differingPaths(values.map((value) => value[key]), [...prefix, key]));
  }
  const first = canonicalJson(values[0] ?? null);
  return values.every((value) => canonicalJson(value ?? null) === first) ? [] : [prefix];
}

function valueAt(value: unknown, path: string[]): unknown {
  return path.reduce<unknown>((node, key) => (isPlainObject(node) ? node[key] : undefined), value);
}

function describeValue(value: unknown): string {
  if (value === undefined || value === null) return 'none';
  // Config values as written (`0.001`, `sgd`), never computed, so no float noise to round away.
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return String(value);
  return canonicalJson(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
