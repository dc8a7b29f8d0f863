// Hand-made run records for the report tests: one model per call, accuracies and zero-gradient shares chosen by the test.
import { attackLabels } from '../src/config/grid.js';
import { dataSchema, trainingSchema, type AttackConfig } from '../src/config/schema.js';
import type { AttackResult, RunRecord } from '../src/types.js';

export const ATTACKS: AttackConfig[] = [
  { name: 'fgsm', eps: [0.1, 0.3], loss: 'ce', lossTemperature: 1 },
  { name: 'pgd', eps: [0.3], loss: 'cw', lossTemperature: 'train', steps: 40, stepSize: 0.01, randomStart: true, restarts: 1, target: 'none' },
];
/** `fgsm-ce(T=1)@0.1`, `fgsm-ce(T=1)@0.3`, `pgd40-cw@0.3`. */
export const LABELS = attackLabels(ATTACKS).flat();

export interface Fixture {
  dataset?: string;
  architecture?: string;
  temperature?: number;
  seed?: number;
  /** Clean accuracy, then one robust accuracy per LABELS entry; absent for a failed run. */
  accuracies?: number[];
  /** One per LABELS entry; by default only the CW attack reports zero gradients (0.25). */
  zeroGradFractions?: (number | null)[];
  failureReason?: string;
  backend?: string;
  finishedAt?: string;
}

export function record({
  dataset = 'mnist',
  architecture = 'cnn-small',
  temperature = 1,
  seed = 0,
  accuracies,
  zeroGradFractions = [0, 0, 0.25],
  failureReason,
  backend = 'wasm',
  finishedAt = '2025-01-01T00:00:14.000Z',
}: Fixture): RunRecord {
  const runId = `${dataset}-${architecture}-t${temperature}-s${seed}`;
  const results: AttackResult[] = (accuracies?.slice(1) ?? []).map((robustAccuracy, i) => {
    const attack = (i < 2 ? ATTACKS[0] : ATTACKS[1]) as Extract<AttackConfig, { name: 'fgsm' | 'pgd' }>;
    const params: AttackResult['params'] = attack.name === 'pgd' ? { steps: 40, stepSize: 0.01, restarts: 1, randomStart: true } : {};
    return {
      label: LABELS[i],
      attack: attack.name,
      eps: i === 0 ? 0.1 : 0.3,
      loss: attack.loss,
      lossTemperature: attack.lossTemperature === 'train' ? temperature : attack.lossTemperature,
      robustAccuracy,
      n: 1000,
      zeroGradFraction: zeroGradFractions[i] ?? null,
      params,
      wallSeconds: 2,
    };
  });
  return {
    runId,
    status: accuracies ? 'ok' : 'failed',
    job: {
      runId,
      trainingId: `train-${runId}`,
      index: 0,
      experiment: 'quickstart',
      dataset,
      architecture,
      temperature,
      seed,
      training: trainingSchema.parse({}),
      data: dataSchema.parse({}),
      attacks: ATTACKS,
      eval: { samples: 1000, batchSize: 250 },
    },
    ...(accuracies ? { cleanAccuracy: accuracies[0], evalSamples: 1000 } : { failureReason }),
    epochLosses: [0.7, 0.1 + 0.2],
    attacks: results,
    timings: { trainSeconds: 12.3456, evalSeconds: 1.5, wallSeconds: 14 },
    backend,
    versions: {},
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt,
  };
}
