// The grid: a pure function from a validated config to the list of jobs, and the column labels of its attacks.
import type { Job } from '../types.js';
import { hashOf } from '../util/hash.js';
import type { AttackConfig, ExperimentConfig } from './schema.js';

/** Column label of the accuracy without attack. */
export const CLEAN_LABEL = 'clean';

/** datasets x architectures x temperatures x seeds, dataset outermost; `runId` hashes everything but `runId`, `trainingId` and `index`. */
export function expandGrid(config: ExperimentConfig): Job[] {
  const jobs: Job[] = [];
  for (const dataset of config.datasets) {
    for (const architecture of config.architectures) {
      for (const temperature of config.temperatures) {
        for (const seed of config.seeds) {
          // Each job gets its own copies so a consumer that mutates one cannot change another (or its id).
          const identity = structuredClone({
            experiment: config.name,
            dataset,
            architecture,
            temperature,
            seed,
            training: config.training,
            data: config.data,
            attacks: config.attacks,
            eval: config.eval,
          });
          // The weights depend on what is trained and how, not on the attacks, eval or experiment name.
          const trainingId = hashOf({ dataset, architecture, temperature, seed, training: identity.training, data: identity.data });
          jobs.push({ runId: hashOf(identity), trainingId, index: jobs.length, ...identity });
        }
      }
    }
  }
  return jobs;
}

/**
 * One label per eps for each attack, in order: `fgsm-ce(T=1)@0.1`, `pgd40-cw@0.3`, `pgd40-ce(T=train)@0.3`.
 * An entry whose labels would repeat an earlier entry's gets `#2`, `#3`, ... after its base (`pgd40#2-cw@0.3`).
 */
export function attackLabels(attacks: AttackConfig[]): string[][] {
  const used = new Set<string>([CLEAN_LABEL]);
  return attacks.map((attack) => {
    const base = attack.name + ('steps' in attack ? String(attack.steps) : '');
    const loss = attack.loss === 'ce' ? `ce(T=${attack.lossTemperature})` : attack.loss;
    const labelsFor = (suffix: string) => attack.eps.map((eps) => `${base}${suffix}-${loss}@${eps}`);
    let labels = labelsFor('');
    for (let n = 2; labels.some((label) => used.has(label)); n++) labels = labelsFor(`#${n}`);
    for (const label of labels) used.add(label);
    return labels;
  });
}
