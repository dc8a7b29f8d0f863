// Views count trained models, not evaluations: records of one model (same training id, e.g. a rerun
// with new attacks that reused its checkpoint) fold into one, newest measurement first.
import type { AttackResult, RunRecord } from '../types.js';

/** One record per trained model: the newest record's status and clean accuracy, every attack label it or an older ok record measured. */
export function latestPerModel(records: RunRecord[]): RunRecord[] {
  const byModel = new Map<string, RunRecord[]>();
  for (const record of records) {
    // Records written before training ids existed stand alone.
    const key = record.job.trainingId ?? record.runId;
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
