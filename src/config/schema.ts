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
  .enum(['ce', 'cw'])
  .describe('Attack loss: cross-entropy of softmax(z / lossTemperature) ("ce") or the CW margin ("cw").');

export const lossTemperatureSchema = z
  .union([z.number().positive(), z.literal('train')])
  .describe('Temperature of the attack loss: a number, or "train" for the attacked model\'s own T.');

const attackCommon = {
  eps: epsSchema,
  loss: lossSchema.default('ce'),
  lossTemperature: lossTemperatureSchema.default(1),
};

export const fgsmSchema = z
  .object({ name: z.literal('fgsm'), ...attackCommon })
  .strict()
  .describe('Fast Gradient Sign Method (Goodfellow et al., 2015).');

export const pgdSchema = z
  .object({
    name: z.literal('pgd'),
    ...attackCommon,
    steps: positiveInt.default(40).describe('Gradient steps per restart.'),
    stepSize: z.number().positive().default(0.01).describe('Step size in pixel units.'),
    randomStart: z.boolean().default(true).describe('Start from a uniform point in the eps-ball.'),
    restarts: positiveInt.default(1).describe('Restarts; an input counts as robust only if it survives all.'),
  })
  .strict()
  .describe('Projected Gradient Descent, L-infinity (Madry et al., 2018).');

export const attackSchema = z.discriminatedUnion('name', [fgsmSchema, pgdSchema]);

export const optimizerSchema = z
  .object({
    name: z.enum(['adam', 'sgd']).default('adam'),
    lr: z.number().positive().default(0.001),
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
    epochs: positiveInt.default(3),
    batchSize: positiveInt.default(128),
    shuffle: z.boolean().default(true).describe('Shuffle the training set each epoch, from the seed.'),
    optimizer: optimizerSchema.default(() => optimizerSchema.parse({})),
    schedule: scheduleSchema.default(() => scheduleSchema.parse({})),
    labelSmoothing: z.number().min(0).lt(1).default(0).describe('Label smoothing of the training targets (0 = off).'),
    checkpoint: z.boolean().default(true).describe('Save the trained weights, so later runs with new attacks skip training.'),
  })
  .strict();

export const evalSchema = z
  .object({
    samples: positiveInt.default(1000).describe('Test images used for clean and adversarial accuracy.'),
    batchSize: positiveInt.default(250),
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

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, 'expected letters, digits, ".", "_" or "-" (it names the output folder)'),
    description: z.string().optional(),
    datasets: z.array(z.string()).min(1),
    architectures: z.array(z.string()).min(1),
    temperatures: z.array(z.number().positive()).min(1),
    seeds: z.array(nonNegativeInt).min(1).default([0]),
    training: trainingSchema.default(() => trainingSchema.parse({})),
    attacks: z.array(attackSchema).default([]),
    eval: evalSchema.default(() => evalSchema.parse({})),
    data: dataSchema.default(() => dataSchema.parse({})),
  })
  .strict();

export type ExperimentConfig = z.output<typeof configSchema>;
export type TrainingConfig = z.output<typeof trainingSchema>;
export type OptimizerConfig = z.output<typeof optimizerSchema>;
export type AttackConfig = z.output<typeof attackSchema>;
export type FgsmConfig = z.output<typeof fgsmSchema>;
export type PgdConfig = z.output<typeof pgdSchema>;
export type EvalConfig = z.output<typeof evalSchema>;
export type DataConfig = z.output<typeof dataSchema>;
export type ScheduleConfig = z.output<typeof scheduleSchema>;
export type AugmentConfig = z.output<typeof augmentSchema>;
export type LossName = z.output<typeof lossSchema>;
export type LossTemperature = z.output<typeof lossTemperatureSchema>;
