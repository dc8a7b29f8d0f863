// The config schema: the one source for validation, the TypeScript types and the published JSON Schema.
import { z } from 'zod';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/** eps is a number or a list of numbers, always in pixel units ([0, 1] inputs). */
export const epsSchema = z
  .union([z.number().nonnegative(), z.array(z.number().nonnegative()).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]))
  .describe('Perturbation budget in [0, 1] pixel units: a number or a list of numbers.');

export const lossSchema = z
  .enum(['ce', 'cw', 'dlr'])
  .describe(
    'Attack loss: cross-entropy of softmax(z / lossTemperature) ("ce"), the CW margin ("cw") or the difference of logits ratio ("dlr", Croce & Hein 2020; needs 4 or more classes). CW and DLR do not change when the logits are rescaled.',
  );

export const lossTemperatureSchema = z
  .union([z.number().positive(), z.literal('train')])
  .describe('Temperature of the attack loss: a number, or "train" for the attacked model\'s own T.');

export const targetSchema = z
  .enum(['none', 'random', 'least-likely'])
  .default('none')
  .describe(
    'Untargeted ("none"), or targeted at a random wrong class ("random", drawn from the seed) or at the class the model finds least likely on the clean image ("least-likely"). Accuracy is still the share classified as the true label.',
  );

/**
 * The targets of APGD and FAB: those of the other attacks, or "top", AutoAttack's choice for APGD-T and FAB-T: run r
 * (restart r, counted from 0) targets the class with the (r + 2)-th largest logit on the clean image, so the restarts
 * walk down the model's ranking of the wrong classes (restarts 9: the 9 highest-scoring wrong classes).
 */
export const rankedTargetSchema = z
  .enum(['none', 'random', 'least-likely', 'top'])
  .default('none')
  .describe(
    'Untargeted ("none"); a random wrong class per restart ("random"); the least likely class ("least-likely"); or "top", AutoAttack\'s APGD-T / FAB-T choice: restart r targets the class with the (r + 2)-th largest clean logit, so `restarts` counts the target classes (9 in AutoAttack; at most classes - 1 are run).',
  );

/** An attack's own image budget, for the expensive ones (the standard AutoAttack is often run on a subset). */
export const attackSamplesSchema = z
  .number()
  .int()
  .positive()
  .optional()
  .describe(
    'Attack only the first N of the eval.samples test images (all of them when absent, or when N is larger): an expensive attack such as the standard AutoAttack is often run on a subset. Its accuracy is over those N images, and its label says so: autoattack[n=200]@0.1.',
  );

const attackCommon = {
  eps: epsSchema,
  samples: attackSamplesSchema,
  loss: lossSchema.default('ce'),
  lossTemperature: lossTemperatureSchema.default(1),
};

const steps = (fallback: number) => positiveInt.default(fallback).describe('Gradient steps per restart.');
const restarts = positiveInt.default(1).describe('Restarts; an input counts as robust only if it survives all.');
const autoStepSize = (rule: string) => z.number().positive().optional().describe(`Step size; when absent, ${rule}.`);

export const fgsmSchema = z
  .object({ name: z.literal('fgsm'), ...attackCommon })
  .strict()
  .describe('Fast Gradient Sign Method (Goodfellow et al., 2015).');

export const pgdSchema = z
  .object({
    name: z.literal('pgd'),
    ...attackCommon,
    steps: steps(40),
    stepSize: z.number().positive().default(0.01).describe('Step size in pixel units.'),
    randomStart: z.boolean().default(true).describe('Start from a uniform point in the eps-ball.'),
    restarts,
    target: targetSchema,
  })
  .strict()
  .describe('Projected Gradient Descent, L-infinity (Madry et al., 2018).');

export const pgdL2Schema = z
  .object({
    name: z.literal('pgd-l2'),
    ...attackCommon,
    steps: steps(40),
    stepSize: autoStepSize('2.5 * eps / steps'),
    randomStart: z.boolean().default(true).describe('Start from a uniform point in the L2 eps-ball.'),
    restarts,
    target: targetSchema,
  })
  .strict()
  .describe('Projected Gradient Descent in L2: eps is the L2 radius over the whole image (Madry et al., 2018).');

export const bimSchema = z
  .object({ name: z.literal('bim'), ...attackCommon, steps: steps(10), stepSize: autoStepSize('eps / steps'), target: targetSchema })
  .strict()
  .describe('Basic Iterative Method: iterated FGSM from the clean image, clipped to the eps-ball (Kurakin et al., 2017).');

export const mifgsmSchema = z
  .object({
    name: z.literal('mifgsm'),
    ...attackCommon,
    steps: steps(10),
    stepSize: autoStepSize('eps / steps'),
    decay: z.number().nonnegative().default(1).describe('Momentum decay factor mu.'),
    target: targetSchema,
  })
  .strict()
  .describe('Momentum Iterative FGSM (Dong et al., CVPR 2018).');

export const apgdSchema = z
  .object({
    name: z.literal('apgd'),
    ...attackCommon,
    steps: steps(100),
    restarts,
    rho: z.number().gt(0).lt(1).default(0.75).describe('Checkpoint condition: halve the step when fewer than rho of the steps since the last checkpoint raised the loss.'),
    target: rankedTargetSchema,
  })
  .strict()
  .describe('Auto-PGD, L-infinity, with its step-size schedule and checkpoints (Croce & Hein, ICML 2020); loss "ce" is APGD-CE, "dlr" is APGD-DLR, "dlr" with target "top" and restarts 9 is AutoAttack\'s APGD-T.');

const fabFields = {
  steps: steps(100).describe('Iterations per restart (the paper\'s and AutoAttack\'s 100).'),
  restarts: positiveInt
    .default(1)
    .describe('Restarts; untargeted, the later ones start from a random point at 0.5 eps; with target "top", the number of target classes.'),
  alphaMax: z.number().gt(0).lt(1).default(0.1).describe('alpha_max: the largest weight of the step from the original image.'),
  eta: z.number().min(1).default(1.05).describe('eta: overshoot of the projection onto the linearised boundary.'),
  beta: z.number().gt(0).lt(1).default(0.9).describe('beta: the backward step towards the original image after an adversarial iterate.'),
  target: rankedTargetSchema,
};

export const fabSchema = z
  .object({ name: z.literal('fab'), eps: epsSchema.describe('Linf budget: an example counts as broken when the closest adversarial image FAB finds is within it.'), samples: attackSamplesSchema, ...fabFields })
  .strict()
  .describe('Fast Adaptive Boundary attack, L-infinity (Croce & Hein, ICML 2020): minimal-distortion adversarial images by projections onto the linearised decision boundary; target "top" with restarts 9 is AutoAttack\'s FAB-T.');

export const fabL2Schema = z
  .object({ name: z.literal('fab-l2'), eps: epsSchema.describe('L2 budget: an example counts as broken when the closest adversarial image FAB finds is within it.'), samples: attackSamplesSchema, ...fabFields })
  .strict()
  .describe('Fast Adaptive Boundary attack in L2 (Croce & Hein, ICML 2020): eps is the L2 radius over the whole image.');

export const cwL2Schema = z
  .object({
    name: z.literal('cw-l2'),
    eps: epsSchema.describe('L2 budget: an example counts as broken only by an adversarial image within this L2 distance.'),
    samples: attackSamplesSchema,
    steps: steps(100).describe('Adam steps per binary-search round.'),
    binarySteps: positiveInt.default(5).describe('Binary-search rounds over the constant c.'),
    initialConst: z.number().positive().default(0.1).describe('Starting value of c.'),
    learningRate: z.number().positive().default(0.1).describe('Adam learning rate in tanh space (0.1 suits the 100-step default; the paper used 0.01 with 10,000 steps).'),
    confidence: z.number().nonnegative().default(0).describe('Margin kappa the attack must reach.'),
    target: targetSchema,
  })
  .strict()
  .describe('Carlini & Wagner L2 (IEEE S&P 2017): optimisation over tanh-space with a binary search on c; loss is the CW margin.');

export const squareSchema = z
  .object({
    name: z.literal('square'),
    eps: epsSchema,
    samples: attackSamplesSchema,
    loss: lossSchema.default('cw'),
    lossTemperature: lossTemperatureSchema.default(1),
    queries: positiveInt.default(1000).describe('Random-search iterations per example, one model query each, after the initial query (the reference\'s n_queries).'),
    pInit: z.number().gt(0).lt(1).default(0.8).describe('Initial share of pixels changed per query.'),
    rescaleSchedule: z
      .boolean()
      .default(true)
      .describe('true (the reference SquareAttack\'s default): the paper\'s 10,000-query p schedule squeezed into `queries`; false: p halves after iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 whatever the budget, as AutoAttack runs its Square-5000.'),
    squares: z
      .enum(['per-example', 'shared'])
      .default('per-example')
      .describe('"per-example" (the Square paper\'s own code): each example draws its own square, and one that would change nothing gets the opposite signs. "shared" (the Square inside AutoAttack\'s code, and inside temper\'s standard autoattack): one square position and one sign per channel per query for the whole batch, and a query that changes nothing is spent; a weaker search on small images, labelled square<queries>-shared.'),
    restarts,
  })
  .strict()
  .describe('Square Attack, score-based black-box L-infinity (Andriushchenko et al., ECCV 2020): no gradients, only logits.');

// Attacks that can run inside `transfer` (on the surrogate) or `autoattack` (on the model); eps comes from the entry.
const innerGradientAttacks = [
  fgsmSchema.omit({ eps: true, samples: true }),
  pgdSchema.omit({ eps: true, samples: true }),
  pgdL2Schema.omit({ eps: true, samples: true }),
  bimSchema.omit({ eps: true, samples: true }),
  mifgsmSchema.omit({ eps: true, samples: true }),
  apgdSchema.omit({ eps: true, samples: true }),
  cwL2Schema.omit({ eps: true, samples: true }),
  fabSchema.omit({ eps: true, samples: true }),
  fabL2Schema.omit({ eps: true, samples: true }),
] as const;
export const innerGradientAttackSchema = z.discriminatedUnion('name', [...innerGradientAttacks]);
export const innerAttackSchema = z.discriminatedUnion('name', [...innerGradientAttacks, squareSchema.omit({ eps: true, samples: true })]);

export const transferSchema = z
  .object({
    name: z.literal('transfer'),
    eps: epsSchema,
    samples: attackSamplesSchema,
    source: z
      .object({
        architecture: z.string().describe('Architecture of the surrogate; must be one of the config\'s architectures.'),
        temperature: z.number().positive().describe('Training temperature of the surrogate; must be one of the config\'s temperatures.'),
      })
      .strict()
      .describe('The surrogate: the model of the same sweep trained on the same dataset and seed with this architecture and temperature.'),
    attack: innerGradientAttackSchema.describe('The white-box attack run on the surrogate (its eps is this entry\'s eps).'),
  })
  .strict()
  .describe('Transfer attack: adversarial images crafted on another model of the sweep, then shown to this one (Papernot et al., 2016).');

/** Which ensemble `autoattack` runs; see ensembleVersion and src/attacks/autoattack.ts for the members. */
export const AUTOATTACK_VERSIONS = ['standard', 'fast', 'custom'] as const;

export const autoattackSchema = z
  .object({
    name: z.literal('autoattack'),
    eps: epsSchema,
    samples: attackSamplesSchema,
    version: z
      .enum(AUTOATTACK_VERSIONS)
      .optional()
      .describe(
        '"standard" (the default): AutoAttack as published, APGD-CE, APGD-T over 9 target classes, FAB-T over 9 target classes and Square with 5,000 queries. "fast": a lighter ensemble labelled autoattack-fast (APGD-CE, APGD-T with one random target, Square with 1,000 queries). "custom": the `attacks` list, labelled autoattack-custom (the default when `attacks` is given).',
      ),
    attacks: z
      .array(innerAttackSchema)
      .min(1)
      .optional()
      .describe('A custom ensemble (version "custom"); results are labelled autoattack-custom, never plain autoattack.'),
  })
  .strict()
  .refine((config) => config.attacks === undefined || config.version === undefined || config.version === 'custom', {
    message: 'an `attacks` list is a custom ensemble: drop "version" or set it to "custom" (standard and fast fix their own attacks)',
    path: ['attacks'],
  })
  .refine((config) => config.version !== 'custom' || config.attacks !== undefined, {
    message: 'version "custom" needs an `attacks` list (or use "standard" or "fast")',
    path: ['version'],
  })
  .describe('AutoAttack (Croce & Hein, ICML 2020): attacks run one after another, each on the examples that survived the ones before; an example is robust only if it survives every attack.');

export const attackSchema = z.discriminatedUnion('name', [
  fgsmSchema,
  pgdSchema,
  pgdL2Schema,
  bimSchema,
  mifgsmSchema,
  apgdSchema,
  cwL2Schema,
  squareSchema,
  fabSchema,
  fabL2Schema,
  transferSchema,
  autoattackSchema,
]);

/** Hendrycks & Dietterich's corruption names (CIFAR-10-C file names without `.npy`). */
export const CORRUPTION_TYPES = [
  'gaussian_noise',
  'shot_noise',
  'impulse_noise',
  'speckle_noise',
  'defocus_blur',
  'glass_blur',
  'motion_blur',
  'zoom_blur',
  'gaussian_blur',
  'fog',
  'brightness',
  'contrast',
  'saturate',
  'elastic_transform',
  'pixelate',
  'jpeg_compression',
  'snow',
  'spatter',
] as const;

/**
 * Corruptions only the published files have: frost overlays photographs of frost that ship with the reference code
 * and are not available here.
 */
export const FILE_ONLY_CORRUPTIONS = ['frost'] as const;

export const corruptionsSchema = z
  .object({
    types: z
      .array(z.enum([...CORRUPTION_TYPES, ...FILE_ONLY_CORRUPTIONS]))
      .min(1)
      .default([...CORRUPTION_TYPES])
      .describe('Corruption types; default every type temper can generate ("frost" needs the published files).'),
    severities: z.array(z.number().int().min(1).max(5)).min(1).default([1, 2, 3, 4, 5]).describe('Severities 1 (mild) to 5.'),
    source: z
      .enum(['auto', 'generated', 'files'])
      .default('auto')
      .describe('"files": the published CIFAR-10-C / CIFAR-100-C .npy files in the data folder; "generated": computed here from the seed; "auto": the files when present, else generated.'),
  })
  .strict()
  .refine((config) => config.source !== 'generated' || !config.types.some((type) => (FILE_ONLY_CORRUPTIONS as readonly string[]).includes(type)), {
    message: `${FILE_ONLY_CORRUPTIONS.join(', ')} cannot be generated; use source "files" or "auto" with the published CIFAR-10-C / CIFAR-100-C files`,
    path: ['types'],
  })
  .describe('Common corruptions in the style of CIFAR-10-C (Hendrycks & Dietterich, ICLR 2019), on the eval images.');

export const adversarialTrainingSchema = z
  .object({
    attack: z.enum(['pgd', 'fgsm']).default('pgd').describe('Attack that makes the training images: PGD-Linf with random start, or FGSM.'),
    eps: z.number().positive().describe('Linf budget of the training attack, in pixel units.'),
    steps: positiveInt.default(7).describe('pgd: gradient steps.'),
    stepSize: z.number().positive().optional().describe('pgd: step size; when absent, 2.5 * eps / steps.'),
    loss: lossSchema.default('ce'),
    lossTemperature: lossTemperatureSchema.default('train').describe('Temperature of the training attack\'s CE loss; default the model\'s own T.'),
    ratio: z.number().min(0).max(1).default(1).describe('Share of adversarial images in each batch loss (1 = Madry PGD-AT, 0.5 = half clean).'),
  })
  .strict()
  .describe('Adversarial training (Madry et al., 2018): each batch is attacked against the current model and the model trains on the result.');

export const optimizerSchema = z
  .object({
    name: z.enum(['adam', 'sgd']).default('adam').describe('Optimizer.'),
    lr: z.number().positive().default(0.001).describe('Learning rate (the peak, under a schedule).'),
    momentum: z.number().min(0).max(1).default(0.9).describe('SGD momentum (ignored by adam).'),
    nesterov: z.boolean().default(false).describe('Nesterov momentum for sgd.'),
    weightDecay: z.number().nonnegative().default(0).describe('L2 penalty added to the loss.'),
  })
  .strict();

export const scheduleSchema = z
  .object({
    name: z.enum(['constant', 'multistep', 'cosine']).default('constant').describe('Learning-rate schedule over epochs.'),
    milestones: z.array(positiveInt).default([]).describe('multistep: epochs after which lr is multiplied by gamma.'),
    gamma: z.number().positive().default(0.1).describe('multistep: the factor at each milestone.'),
    warmupEpochs: z.number().nonnegative().default(0).describe('Linear warmup from 0 to lr over this many epochs (per step).'),
  })
  .strict();

export const trainingSchema = z
  .object({
    epochs: positiveInt.default(3).describe('Training epochs per model.'),
    batchSize: positiveInt.default(128).describe('Training batch size.'),
    shuffle: z.boolean().default(true).describe('Shuffle the training set each epoch, from the seed.'),
    optimizer: optimizerSchema.default(() => optimizerSchema.parse({})).describe('The optimizer of the training loss CE(softmax(z / T), y).'),
    schedule: scheduleSchema.default(() => scheduleSchema.parse({})).describe('Learning-rate schedule.'),
    labelSmoothing: z.number().min(0).lt(1).default(0).describe('Label smoothing of the training targets (0 = off).'),
    checkpoint: z.boolean().default(true).describe('Save the trained weights, so later runs with new attacks skip training.'),
    adversarial: adversarialTrainingSchema.optional().describe('Adversarial training at the job\'s temperature; absent: standard training.'),
  })
  .strict();

export const evalSchema = z
  .object({
    samples: positiveInt.default(1000).describe('Test images used for clean and adversarial accuracy.'),
    batchSize: positiveInt.default(250).describe('Images per forward/backward pass during evaluation and attacks.'),
  })
  .strict();

export const augmentSchema = z
  .object({
    randomCrop: nonNegativeInt.default(0).describe('Pad by this many pixels (zeros), then crop back at a random offset (0 = off).'),
    horizontalFlip: z.boolean().default(false).describe('Flip each training image left-right with probability 1/2.'),
  })
  .strict();

export const dataSchema = z
  .object({
    trainSamples: positiveInt.optional().describe('Use only the first N training images (quick runs).'),
    augment: augmentSchema.default(() => augmentSchema.parse({})).describe('Training-time augmentation, seeded from the job seed.'),
  })
  .strict();

export const reportSchema = z
  .object({
    baselineTemperature: z
      .number()
      .positive()
      .optional()
      .describe('The temperature summary.md and index.html compare every other with, paired by seed (default 1; one of `temperatures`).'),
  })
  .strict();

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, 'expected letters, digits, ".", "_" or "-" (it names the output folder)')
      .describe('Names the output folder results/<name>: letters, digits, ".", "_", "-".'),
    description: z.string().optional().describe('Free text, shown under the title of summary.md and index.html.'),
    datasets: z.array(z.string()).min(1).describe('Datasets to train on (temper data list).'),
    architectures: z.array(z.string()).min(1).describe('Architectures to train (see docs/data-and-models.md).'),
    temperatures: z.array(z.number().positive()).min(1).describe('Training temperatures T of the loss CE(softmax(z / T), y).'),
    seeds: z.array(nonNegativeInt).min(1).default([0]).describe('One model per seed; seeds drive initial weights, shuffling and attack random starts.'),
    training: trainingSchema.default(() => trainingSchema.parse({})).describe('How every model is trained.'),
    attacks: z.array(attackSchema).default([]).describe('Attacks, each evaluated on every trained model (see below).'),
    corruptions: corruptionsSchema.optional(),
    eval: evalSchema.default(() => evalSchema.parse({})).describe('Clean and adversarial evaluation.'),
    data: dataSchema.default(() => dataSchema.parse({})).describe('Training data settings.'),
    report: reportSchema.optional().describe('How the views are written; changes no run, so no retraining.'),
    sweep: z
      .record(z.string(), z.array(z.unknown()).min(1))
      .optional()
      .describe(
        'More grid axes: a setting under training, data or eval, by its key path ("training.labelSmoothing"), and the values to try. Every combination of the values is crossed with the datasets, architectures, temperatures and seeds (dataset outermost, then architecture, sweep combination with the first key outermost, temperature, seed). A sweep value replaces the same setting written elsewhere in the config.',
      ),
  })
  .strict();

export type ExperimentConfig = z.output<typeof configSchema>;
export type TrainingConfig = z.output<typeof trainingSchema>;
export type OptimizerConfig = z.output<typeof optimizerSchema>;
export type AttackConfig = z.output<typeof attackSchema>;
export type FgsmConfig = z.output<typeof fgsmSchema>;
export type PgdConfig = z.output<typeof pgdSchema>;
export type PgdL2Config = z.output<typeof pgdL2Schema>;
export type BimConfig = z.output<typeof bimSchema>;
export type MifgsmConfig = z.output<typeof mifgsmSchema>;
export type ApgdConfig = z.output<typeof apgdSchema>;
export type CwL2Config = z.output<typeof cwL2Schema>;
export type SquareConfig = z.output<typeof squareSchema>;
export type FabConfig = z.output<typeof fabSchema>;
export type FabL2Config = z.output<typeof fabL2Schema>;
export type TransferConfig = z.output<typeof transferSchema>;
export type AutoattackConfig = z.output<typeof autoattackSchema>;
/** An attack of `transfer` or `autoattack`: a full attack config without eps. */
export type InnerAttackConfig = z.output<typeof innerAttackSchema>;
export type TargetMode = z.output<typeof targetSchema>;
export type RankedTargetMode = z.output<typeof rankedTargetSchema>;
export type AutoattackVersion = (typeof AUTOATTACK_VERSIONS)[number];

/** The ensemble an `autoattack` entry runs: "custom" when it lists `attacks`, else its version, "standard" by default. */
export function ensembleVersion(config: { version?: AutoattackVersion | undefined; attacks?: unknown[] | undefined }): AutoattackVersion {
  return config.attacks !== undefined ? 'custom' : (config.version ?? 'standard');
}
/** A corruption temper can generate. */
export type GeneratedCorruptionType = (typeof CORRUPTION_TYPES)[number];
/** Any corruption a config can name, including those only the published files have. */
export type CorruptionType = GeneratedCorruptionType | (typeof FILE_ONLY_CORRUPTIONS)[number];
export type CorruptionsConfig = z.output<typeof corruptionsSchema>;
export type AdversarialTrainingConfig = z.output<typeof adversarialTrainingSchema>;
export type EvalConfig = z.output<typeof evalSchema>;
export type ReportConfig = z.output<typeof reportSchema>;
export type DataConfig = z.output<typeof dataSchema>;
export type ScheduleConfig = z.output<typeof scheduleSchema>;
export type AugmentConfig = z.output<typeof augmentSchema>;
export type LossName = z.output<typeof lossSchema>;
export type LossTemperature = z.output<typeof lossTemperatureSchema>;
