// What every attack shares: the model contract, the run and output shapes, gradients, projections, targets and restarts.
import * as tf from '@tensorflow/tfjs';
import type { AttackConfig, InnerAttackConfig, TargetMode } from '../config/schema.js';
import type { AttackLoss } from './losses.js';
import { LINF_STEP } from '../backend/kernels/linf-step.js';

/** What an attack knows about its target. Inputs are NHWC images in [0, 1]. */
export interface AttackTarget {
  /** Logits of the model (no softmax). */
  logits(images: tf.Tensor4D): tf.Tensor2D;
  /** Temperature the model was trained at (resolves lossTemperature "train"). */
  temperature: number;
}

/** An attack config as the attack sees it: eps arrives separately (an entry's list, or the entry around an inner attack). */
export type RunConfig<C extends AttackConfig | InnerAttackConfig> = Omit<C, 'eps'>;

export interface AttackRun<C extends AttackConfig | InnerAttackConfig = AttackConfig> {
  target: AttackTarget;
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
  eps: number;
  /** The resolved loss (its temperature already fixed); attacks without a loss choice get the CW margin. */
  loss: AttackLoss;
  config: RunConfig<C>;
  /** Seed for the attack's own randomness (random starts, targets, squares), fixed per job, attack, eps and batch. */
  seed: number;
  /** The surrogate model, for `transfer`: the attack is crafted on it and shown to `target`. */
  surrogate?: AttackTarget;
  /**
   * Tells the job bar what the attack is doing within this batch, in a few words ("step 17/40", "member 2 of 3
   * (apgd-dlr), 41 standing"; about 40 characters fit on a 120-column terminal, the rest is cut there but logged in
   * full). Optional: call it as `run.progress?.(text)`, as often as you like (the display throttles itself); never
   * read a tensor just to report it.
   */
  progress?: (detail: string) => void;
}

/**
 * Unit of AttackSpec.cost: one forward pass of one image is 1; an input gradient (a forward pass and its backward pass)
 * is 2, since a backward pass costs about one forward pass more.
 */
export const FORWARD_COST = 1;
export const GRADIENT_COST = 2;

/** What an attack's cost may depend on besides its config. */
export interface CostContext {
  /** Classes of the dataset (FAB's untargeted step takes one gradient per class; "top" targets stop at classes - 1). */
  classes: number;
}

export interface AttackOutput {
  /** The attack's images: for each example, the first restart that fooled the model, else the last. */
  adversarial: tf.Tensor4D;
  /** 1 where the model still classifies the example correctly after the attack, else 0. */
  robust: tf.Tensor1D;
  /** 1 where the input gradient at the attack's first step was exactly zero, else 0; null for attacks without gradients. */
  zeroGradient: tf.Tensor1D | null;
}

export interface AttackSpec<C extends AttackConfig | InnerAttackConfig = AttackConfig> {
  name: C['name'];
  /** One line with the paper, for `temper --help` and the README. */
  description: string;
  /** Norm that eps is measured in. */
  norm: 'linf' | 'l2';
  /** How the attack reaches the model; the masking audit compares white-box with the others. */
  access: 'white-box' | 'black-box' | 'transfer' | 'ensemble';
  /** Iterative gradient attacks, which should be no weaker than a single step (masking audit). */
  iterative: boolean;
  /** Parameters recorded in runs.csv (steps, stepSize, ...). */
  params(config: RunConfig<C>): Record<string, number | string | boolean>;
  /**
   * Model evaluations per attacked image, in forward-pass equivalents (FORWARD_COST = 1 per forward pass, GRADIENT_COST
   * = 2 per input gradient), with every restart, target class and ensemble member run in full: an upper bound, since
   * later restarts and members run only on the examples still standing and some stop once every example is broken.
   */
  cost(config: RunConfig<C>, context: CostContext): number;
  /** Runs on one batch; must not keep tensors beyond the returned ones. */
  run(run: AttackRun<C>): AttackOutput;
}

/** Releases every tensor of an output. */
export function disposeOutput(output: AttackOutput): void {
  tf.dispose([output.adversarial, output.robust, ...(output.zeroGradient ? [output.zeroGradient] : [])]);
}

/**
 * Gradient of the summed attack objective with respect to the input images: of the loss of the true label when
 * untargeted, of the targeted objective (which grows as `targets` win) when targets are given. Attacks ascend it.
 */
export function inputGradient(target: AttackTarget, loss: AttackLoss, images: tf.Tensor4D, labels: tf.Tensor1D, targets?: tf.Tensor1D): tf.Tensor4D {
  return tf.grad((x) => tf.sum(loss.apply(target.logits(x as tf.Tensor4D), labels, targets)))(images) as tf.Tensor4D;
}

/**
 * sign(x) in {-1, 0, 1}, exact for every float32 on every backend. tfjs-wasm's Sign kernel returns 0 for
 * |x| < 1.19e-7 (FLT_EPSILON): on a model trained at high T the CE(T=1) input gradient is often tiny but not zero, so
 * tf.sign stalls signed-gradient attacks there and inflates their robust accuracy (found by an independent numpy check:
 * 80.6% instead of 34.9% under PGD-40 at T = 30 on MNIST).
 */
export function exactSign<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.sub(tf.cast(tf.greater(x, 0), 'float32'), tf.cast(tf.less(x, 0), 'float32')) as T);
}

/** 1 where every component of an example's gradient is exactly zero. */
export function zeroGradientMask(gradient: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => tf.cast(tf.equal(tf.max(tf.abs(gradient), [1, 2, 3]), 0), 'float32') as tf.Tensor1D);
}

/**
 * a where `pick` is 1, b where it is 0, for a 0/1 float `pick` that broadcasts against a and b (e.g. [n, 1, 1, 1]: one
 * choice per example). Exact for finite a and b (1 * a + 0 * b is a), and unlike tf.where it broadcasts inside the
 * kernel instead of tiling the condition first, which is about ten times slower on wasm.
 */
export function choose<T extends tf.Tensor>(pick: tf.Tensor, a: T, b: T): T {
  return tf.tidy(() => tf.add(tf.mul(a, pick), tf.mul(b, tf.sub(1, pick))) as T);
}

/** Projects onto the L-infinity ball of radius eps around the clean images, then onto [0, 1]. */
export function projectLinf(adversarial: tf.Tensor4D, clean: tf.Tensor4D, eps: number): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.minimum(tf.maximum(adversarial, tf.sub(clean, eps)), tf.add(clean, eps)), 0, 1) as tf.Tensor4D);
}

/**
 * One signed-gradient step and its projection: projectLinf(x + stepSize * exactSign(gradient), clean, eps). On a
 * backend with the project's fused kernel (TemperLinfStep, wasm) one pass with the same bits, else those ops.
 */
export function linfStep(x: tf.Tensor4D, gradient: tf.Tensor4D, clean: tf.Tensor4D, stepSize: number, eps: number): tf.Tensor4D {
  const fused = tf.getKernel(LINF_STEP, tf.getBackend()) !== undefined && [x, gradient, clean].every((t) => t.dtype === 'float32')
    && tf.util.arraysEqual(x.shape, gradient.shape) && tf.util.arraysEqual(x.shape, clean.shape);
  if (fused) return tf.engine().runKernel(LINF_STEP, { x, gradient, clean }, { stepSize, eps }) as tf.Tensor4D;
  return tf.tidy(() => projectLinf(tf.add(x, tf.mul(exactSign(gradient), stepSize)), clean, eps));
}

/** Per-example L2 norm over height, width and channels, shaped [n, 1, 1, 1] for broadcasting. */
export function l2Norm(t: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true)) as tf.Tensor4D);
}

/** Scales each perturbation down onto the L2 ball of radius eps around the clean images, then clips to [0, 1]. */
export function projectL2(adversarial: tf.Tensor4D, clean: tf.Tensor4D, eps: number): tf.Tensor4D {
  return tf.tidy(() => {
    const delta = tf.sub(adversarial, clean) as tf.Tensor4D;
    const factor = tf.minimum(1, tf.div(eps, tf.maximum(l2Norm(delta), 1e-12)));
    return tf.clipByValue(tf.add(clean, tf.mul(delta, factor)), 0, 1) as tf.Tensor4D;
  });
}

/** 1 where the predicted class equals the label. */
export function correctMask(target: AttackTarget, images: tf.Tensor4D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.cast(tf.equal(tf.argMax(target.logits(images), -1), labels), 'float32') as tf.Tensor1D);
}

/**
 * The target class of each example, or undefined when untargeted: a uniformly drawn wrong class ("random", from the
 * seed), or the class with the smallest clean logit ("least-likely", Kurakin et al., 2017).
 */
export function chooseTargets(mode: TargetMode, target: AttackTarget, images: tf.Tensor4D, labels: tf.Tensor1D, seed: number): tf.Tensor1D | undefined {
  if (mode === 'none') return undefined;
  return tf.tidy(() => {
    const logits = target.logits(images);
    if (mode === 'least-likely') return tf.cast(tf.argMin(logits, -1), 'int32') as tf.Tensor1D;
    const classes = logits.shape[1];
    // label + 1 + floor(u * (K - 1)) mod K is uniform over the K - 1 wrong classes.
    const offset = tf.floor(tf.mul(tf.randomUniform([labels.shape[0]], 0, 1, 'float32', seed), classes - 1 - 1e-6));
    return tf.cast(tf.mod(tf.add(tf.add(tf.cast(labels, 'float32'), 1), offset), classes), 'int32') as tf.Tensor1D;
  });
}

/**
 * The class with the `rank`-th largest logit of each row (rank 1: the largest), as int32. On a correctly classified
 * image rank 2 is the runner-up: AutoAttack's APGD-T and FAB-T target ranks 2, 3, ..., 10 in turn.
 */
export function rankedTargets(logits: tf.Tensor2D, rank: number): tf.Tensor1D {
  return tf.tidy(() => {
    const { indices } = tf.topk(logits, rank);
    return tf.reshape(tf.slice(indices, [0, rank - 1], [-1, 1]), [-1]) as tf.Tensor1D;
  });
}

/** The examples one run of attackSurvivors attacks: images, labels and clean logits, gathered from the batch. */
export interface Survivors {
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
  /** Logits of the clean images (for target choices by rank). */
  logits: tf.Tensor2D;
  /** Examples of the whole batch, for progress text. */
  of: number;
}

/**
 * AutoAttack's way of running several attacks or restarts: only on the examples the model classifies correctly, and
 * each run only on those no earlier run has broken. `once(run, survivors)` attacks the survivors; an example is broken
 * by the first run that fools the model and keeps that run's image, and one never broken keeps the last run's image.
 * Examples misclassified without attack count as broken and keep their clean image. Stops early when nothing is left.
 * One small read per run (who is standing), none inside the runs. `runs` may depend on the number of classes (one run
 * per target class). The zero-gradient mask is the first run's (0 for examples it did not attack); with
 * `gradients: false` it is null unless the first run reports one.
 */
export function attackSurvivors(
  { target, images, labels }: { target: AttackTarget; images: tf.Tensor4D; labels: tf.Tensor1D },
  runs: number | ((classes: number) => number),
  options: { gradients: boolean },
  once: (run: number, survivors: Survivors) => AttackOutput,
): AttackOutput {
  const n = labels.shape[0];
  const logits = tf.tidy(() => target.logits(images));
  const total = typeof runs === 'number' ? runs : runs(logits.shape[1]);
  const cleanCorrect = tf.tidy(() => tf.cast(tf.equal(tf.argMax(logits, -1), labels), 'float32'));
  const robust = cleanCorrect.dataSync() as Float32Array;
  cleanCorrect.dispose();
  let adversarial = tf.clone(images);
  let zeroGradient: tf.Tensor1D | null = null;
  try {
    for (let run = 0; run < total; run++) {
      const standing = [...robust.keys()].filter((k) => robust[k] === 1);
      if (standing.length === 0) break;
      // Everyone standing: the batch's own tensors, no copies.
      const all = standing.length === n;
      const index = all ? null : tf.tensor1d(standing, 'int32');
      const survivors: Survivors = index
        ? { images: tf.gather(images, index), labels: tf.gather(labels, index), logits: tf.gather(logits, index), of: n }
        : { images, labels, logits, of: n };
      try {
        const output = once(run, survivors);
        const survived = output.robust.dataSync();
        // Every example of this run was standing: it takes this run's image (its fooling one, or its latest).
        const next = index
          ? tf.tidy(() => {
              const at = tf.reshape(index, [-1, 1]);
              const attacked = tf.scatterND(at, tf.ones([standing.length, 1, 1, 1]), [n, 1, 1, 1]);
              return choose(attacked, tf.scatterND(at, output.adversarial, images.shape) as tf.Tensor4D, adversarial);
            })
          : tf.clone(output.adversarial);
        if (run === 0 && output.zeroGradient) {
          const mask = output.zeroGradient;
          zeroGradient = tf.tidy(() => (index ? (tf.scatterND(tf.reshape(index, [-1, 1]), mask, [n]) as tf.Tensor1D) : tf.clone(mask)));
        }
        standing.forEach((k, j) => {
          if (survived[j] === 0) robust[k] = 0;
        });
        disposeOutput(output);
        adversarial.dispose();
        adversarial = next;
      } finally {
        if (index) tf.dispose([index, survivors.images, survivors.labels, survivors.logits]);
      }
    }
  } catch (error) {
    tf.dispose([adversarial, ...(zeroGradient ? [zeroGradient] : [])]);
    throw error;
  } finally {
    logits.dispose();
  }
  if (options.gradients) zeroGradient ??= tf.zeros([n]);
  return { adversarial, robust: tf.tensor1d(robust), zeroGradient };
}

/**
 * Combines two restarts' outputs: an example stays robust only if it survived both; its adversarial image is the
 * earlier one if that fooled the model, else the later one. Disposes both inputs.
 */
export function mergeRestarts(previous: AttackOutput, next: AttackOutput): AttackOutput {
  const adversarial = tf.tidy(() => {
    const keepPrevious = tf.reshape(tf.sub(1, previous.robust), [-1, 1, 1, 1]);
    return tf.add(tf.mul(keepPrevious, previous.adversarial), tf.mul(tf.sub(1, keepPrevious), next.adversarial)) as tf.Tensor4D;
  });
  const robust = tf.mul(previous.robust, next.robust) as tf.Tensor1D;
  const first = previous.zeroGradient ?? next.zeroGradient;
  const zeroGradient = first ? tf.clone(first) : null;
  disposeOutput(previous);
  disposeOutput(next);
  return { adversarial, robust, zeroGradient };
}

/** Runs `once(restart)` `restarts` times and merges the outputs (an example is robust only if it survives all). */
export function withRestarts(restarts: number, once: (restart: number) => AttackOutput): AttackOutput {
  let best = once(0);
  for (let restart = 1; restart < restarts; restart++) best = mergeRestarts(best, once(restart));
  return best;
}

/** `progress` with "restart r/n, " in front of what it is told, when there is more than one restart. */
export function restartProgress(progress: AttackRun['progress'], restart: number, restarts: number): AttackRun['progress'] {
  return progress && restarts > 1 ? (detail) => progress(`restart ${restart + 1}/${restarts}, ${detail}`) : progress;
}

/**
 * The loop of the projected-gradient attacks (PGD, PGD-L2, BIM): from `start` (which it takes over), `steps` times
 * x <- update(x, g) with g the input gradient of the attack objective (inside tf.tidy). Returns the final images,
 * whether the model still classifies them correctly, and which examples had an exactly-zero gradient at the first step.
 * Reports "step k/steps" to `run.progress` after each step.
 */
export function gradientSteps(
  run: Pick<AttackRun, 'target' | 'loss' | 'labels' | 'progress'> & { targets: tf.Tensor1D | undefined },
  start: tf.Tensor4D,
  steps: number,
  update: (adversarial: tf.Tensor4D, gradient: tf.Tensor4D) => tf.Tensor4D,
): AttackOutput {
  let adversarial = start;
  let zeroGradient: tf.Tensor1D | undefined;
  for (let step = 0; step < steps; step++) {
    const gradient = inputGradient(run.target, run.loss, adversarial, run.labels, run.targets);
    zeroGradient ??= zeroGradientMask(gradient);
    const current = adversarial;
    const next = tf.tidy(() => update(current, gradient));
    tf.dispose([gradient, adversarial]);
    adversarial = next;
    run.progress?.(`step ${step + 1}/${steps}`);
  }
  const robust = correctMask(run.target, adversarial, run.labels);
  return { adversarial, robust, zeroGradient: zeroGradient ?? tf.zerosLike(robust) };
}
