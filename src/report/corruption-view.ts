// Corruption rows in the summary views: the main tables and plots show their mean as one column, `corruptions(mean)`
// (the paper's corruption accuracy); the per-type, per-severity numbers get their own table.
import type { AttackResult, RunRecord } from '../types.js';
import { attackLabels, corruptionLabel } from '../config/grid.js';

export const CORRUPTIONS_LABEL = 'corruptions(mean)';

export function isCorruption(result: AttackResult): boolean {
  return result.kind === 'corruption';
}

/** A run's attack rows with its corruption rows replaced by their mean (one row labelled `corruptions(mean)`). */
export function summaryResults(record: RunRecord): AttackResult[] {
  const attacks = record.attacks.filter((result) => !isCorruption(result));
  const corruptions = record.attacks.filter(isCorruption);
  if (corruptions.length === 0) return attacks;
  const mean = corruptions.reduce((sum, result) => sum + result.robustAccuracy, 0) / corruptions.length;
  return [
    ...attacks,
    {
      label: CORRUPTIONS_LABEL,
      attack: 'corruptions',
      eps: 0,
      loss: '',
      lossTemperature: null,
      robustAccuracy: mean,
      n: corruptions[0]!.n,
      zeroGradFraction: null,
      params: { rows: corruptions.length },
      wallSeconds: corruptions.reduce((sum, result) => sum + result.wallSeconds, 0),
      kind: 'corruption',
      norm: '',
    },
  ];
}

/** The summary columns a run planned (for failed runs, which measured nothing). */
export function plannedSummaryLabels(record: RunRecord): string[] {
  return [...attackLabels(record.job.attacks).flat(), ...(record.job.corruptions ? [CORRUPTIONS_LABEL] : [])];
}

/** The per-corruption columns a run measured or planned: `gaussian_noise@s1`, ... */
export function corruptionLabels(record: RunRecord): string[] {
  if (record.status === 'ok') return record.attacks.filter(isCorruption).map((result) => result.label);
  const planned = record.job.corruptions;
  return planned ? planned.types.flatMap((type) => planned.severities.map((severity) => corruptionLabel(type, severity))) : [];
}
