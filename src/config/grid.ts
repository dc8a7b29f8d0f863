// The grid: a pure function from a validated config to the list of jobs, and the column labels of its attacks.
import type { Job } from '../types.js';
import { hashOf } from '../util/hash.js';
import { settingsAt, sweepCombinations } from './sweep.js';
import { ensembleVersion, type AttackConfig, type CorruptionType, type ExperimentConfig, type InnerAttackConfig, type LossName, type RankedTargetMode } from './schema.js';

/** Column label of the accuracy without attack. */
export const CLEAN_LABEL = 'clean';

/**
 * datasets x architectures x sweep combinations x temperatures x seeds, dataset outermost (a sweep's first key is the
 * outermost of its axes). `runId` hashes the resolved job but `runId`, `trainingId`, `index` and `sweep`: the sweep's
 * values are in its training, data and eval already, so a config without a sweep keeps its ids, and a setting moved
 * into a sweep (or a value added to an axis) keeps those of the jobs that ran.
 */
export function expandGrid(config: ExperimentConfig): Job[] {
  const jobs: Job[] = [];
  const points = sweepCombinations(config.sweep).map((point) => ({ point, settings: settingsAt(config, point) }));
  for (const dataset of config.datasets) {
    for (const architecture of config.architectures) {
      for (const { point, settings } of points) {
        for (const temperature of config.temperatures) {
          for (const seed of config.seeds) {
            // Each job gets its own copies so a consumer that mutates one cannot change another (or its id).
            const identity = structuredClone({
              experiment: config.name,
              dataset,
              architecture,
              temperature,
              seed,
              training: settings.training,
              data: settings.data,
              attacks: config.attacks,
              ...(config.corruptions ? { corruptions: config.corruptions } : {}),
              eval: settings.eval,
            });
            const trainingId = trainingIdOf({ dataset, architecture, temperature, seed, training: identity.training, data: identity.data });
            jobs.push({ runId: hashOf(identity), trainingId, index: jobs.length, ...identity, ...(config.sweep ? { sweep: structuredClone(point) } : {}) });
          }
        }
      }
    }
  }
  return jobs;
}

/** The weights depend on what is trained and how, not on the attacks, eval or experiment name. */
export function trainingIdOf(parts: Pick<Job, 'dataset' | 'architecture' | 'temperature' | 'seed' | 'training' | 'data'>): string {
  const { dataset, architecture, temperature, seed, training, data } = parts;
  return hashOf({ dataset, architecture, temperature, seed, training, data });
}

/** The loss an attack ascends and its configured temperature (used by "ce" only); "" and null for attacks without them. */
export function attackLossOf(attack: AttackConfig | InnerAttackConfig): { loss: LossName | ''; lossTemperature: number | 'train' | null } {
  switch (attack.name) {
    case 'cw-l2':
      return { loss: 'cw', lossTemperature: null };
    case 'transfer':
      return attackLossOf(attack.attack);
    case 'autoattack':
    case 'fab':
    case 'fab-l2':
      // FAB's objective is the logit differences themselves (the linearised decision boundary): no loss to choose.
      return { loss: '', lossTemperature: null };
    default:
      return { loss: attack.loss, lossTemperature: attack.lossTemperature };
  }
}

/**
 * An attack's label without its `@eps`: `pgd40-ce(T=1)`, `apgd100-dlr-top9`, `pgd40-cw-ll`, `fab100-top9`,
 * `transfer(cnn-small,T=1):fgsm-ce(T=1)`. Only the standard AutoAttack is `autoattack`; the lighter ensemble is
 * `autoattack-fast` and a configured list `autoattack-custom`, so no table calls a weaker ensemble AutoAttack.
 */
export function attackName(attack: AttackConfig | InnerAttackConfig): string {
  if (attack.name === 'transfer') return `transfer(${attack.source.architecture},T=${attack.source.temperature}):${attackName(attack.attack)}`;
  if (attack.name === 'autoattack') {
    const version = ensembleVersion(attack);
    return version === 'standard' ? 'autoattack' : `autoattack-${version}`;
  }
  if (attack.name === 'cw-l2') return `cwl2-${attack.steps}x${attack.binarySteps}${targetSuffix(attack.target)}`;
  if (attack.name === 'fab' || attack.name === 'fab-l2') {
    return `fab${attack.steps}${attack.name === 'fab-l2' ? '-l2' : ''}${targetSuffix(attack.target, attack.restarts)}`;
  }
  const base =
    attack.name === 'pgd-l2' ? `pgd${attack.steps}-l2` : attack.name === 'square' ? `square${attack.queries}${attack.squares === 'shared' ? '-shared' : ''}` : attack.name + ('steps' in attack ? String(attack.steps) : '');
  const { loss, lossTemperature } = attackLossOf(attack);
  const lossPart = loss === 'ce' ? `ce(T=${lossTemperature})` : loss;
  return `${base}-${lossPart}${'target' in attack ? targetSuffix(attack.target, 'restarts' in attack ? attack.restarts : 1) : ''}`;
}

/** `-random`, `-ll`, or `-top9` for "top" over 9 restarts (one target class each); nothing when untargeted. */
function targetSuffix(target: RankedTargetMode, restarts = 1): string {
  return target === 'none' ? '' : target === 'random' ? '-random' : target === 'least-likely' ? '-ll' : `-top${restarts}`;
}

/**
 * One label per eps for each attack, in order: `fgsm-ce(T=1)@0.1`, `pgd40-cw@0.3`, `pgd40-ce(T=train)@0.3`, and with the
 * attack's own `samples`, `autoattack[n=200]@0.1`.
 * An entry whose labels would repeat an earlier entry's gets `#2`, `#3`, ... after its base (`pgd40#2-cw@0.3`).
 */
export function attackLabels(attacks: AttackConfig[]): string[][] {
  const used = new Set<string>([CLEAN_LABEL]);
  return attacks.map((attack) => {
    const [base, rest] = splitFirst(attackName(attack));
    // An attack on fewer images than the others says so: autoattack[n=200]@0.1.
    const images = attack.samples === undefined ? '' : `[n=${attack.samples}]`;
    const labelsFor = (suffix: string) => attack.eps.map((eps) => `${base}${suffix}${rest}${images}@${eps}`);
    let labels = labelsFor('');
    for (let n = 2; labels.some((label) => used.has(label)); n++) labels = labelsFor(`#${n}`);
    for (const label of labels) used.add(label);
    return labels;
  });
}

// `pgd40-ce(T=1)` -> ["pgd40", "-ce(T=1)"]: a `#2` goes after the first part, as in `pgd40#2-cw@0.3`.
function splitFirst(name: string): [string, string] {
  const dash = name.search(/-(?![^(]*\))/);
  return dash < 0 ? [name, ''] : [name.slice(0, dash), name.slice(dash)];
}

/** Label of a corruption row, e.g. `gaussian_noise@s3`. */
export function corruptionLabel(type: CorruptionType, severity: number): string {
  return `${type}@s${severity}`;
}
