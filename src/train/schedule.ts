// Learning rate at every training step: a schedule over epochs (constant, multistep, cosine) times a linear warmup.
import type { ScheduleConfig, TrainingConfig } from '../config/schema.js';

/**
 * The learning rate of step `stepInEpoch` (0-based) of epoch `epoch0` (0-based), with `stepsPerEpoch` steps an
 * epoch. Warmup ramps linearly per step from lr / warmupSteps to lr over the first `warmupEpochs`; cosine then
 * anneals from lr to 0 over the remaining epochs (Loshchilov & Hutter, SGDR, 2017); multistep multiplies lr by
 * gamma once per milestone epoch reached (PyTorch's MultiStepLR).
 */
export function learningRateAt(config: TrainingConfig, epoch0: number, stepInEpoch: number, stepsPerEpoch: number): number {
  const { optimizer, schedule, epochs } = config;
  const epochsDone = epoch0 + stepInEpoch / stepsPerEpoch;
  const warmupSteps = schedule.warmupEpochs * stepsPerEpoch;
  const step = epoch0 * stepsPerEpoch + stepInEpoch;
  const warmup = step < warmupSteps ? (step + 1) / warmupSteps : 1;
  return optimizer.lr * scheduleFactor(schedule, epochsDone, epoch0, epochs) * Math.min(1, warmup);
}

function scheduleFactor(schedule: ScheduleConfig, epochsDone: number, epoch0: number, epochs: number): number {
  switch (schedule.name) {
    case 'constant':
      return 1;
    case 'multistep':
      return schedule.gamma ** schedule.milestones.filter((milestone) => epoch0 >= milestone).length;
    case 'cosine': {
      const span = epochs - schedule.warmupEpochs;
      // Warmup takes the whole training: nothing is left to anneal.
      if (span <= 0) return 1;
      const progress = Math.min(1, Math.max(0, (epochsDone - schedule.warmupEpochs) / span));
      return 0.5 * (1 + Math.cos(Math.PI * progress));
    }
  }
}
