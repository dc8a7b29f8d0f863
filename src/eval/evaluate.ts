// Clean accuracy and calibration, then accuracy under every attack at every eps and under every corruption, on the
// first `eval.samples` test images.
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/types.js';
import type { AttackResult, Calibration, Job } from '../types.js';
import { attackLabels, attackLossOf, corruptionLabel } from '../config/grid.js';
import { FILE_ONLY_CORRUPTIONS, type AttackConfig, type CorruptionType, type GeneratedCorruptionType, type TransferConfig } from '../config/schema.js';
import { attackLoss, attackNorm, getAttack } from '../attacks/index.js';
import type { AttackTarget } from '../attacks/attack.js';
import { correctMask } from '../attacks/attack.js';
import { corruptImages, findCorruptionFile, type CorruptionFile } from '../corruptions/index.js';
import { rangeTensors } from '../train/batches.js';
import { InterruptedError } from '../train/train.js';
import { intSeed } from '../util/rng.js';
import { calibrationFromSums, calibrationSums, ECE_BINS } from './calibration.js';

/** How far an evaluation row has got: batches of the evaluation set finished, and what the attack says it is doing. */
export interface AttackProgress {
  /** Batches finished, of `batches`; the batch under way is number `batch + 1`. */
  batch: number;
  batches: number;
  /** The attack's own words about the batch under way (from `AttackRun.progress`), e.g. "step 17/40". */
  detail?: string;
}

export interface EvalHooks {
  onAttack?(progress: { label: string; kind: 'attack' | 'corruption'; index: number; total: number; done: number; samples: number }): void;
  /** Called after each batch of a row, and whenever the attack reports on the batch under way. */
  onAttackProgress?(progress: AttackProgress): void;
  onResult?(result: AttackResult): void;
  shouldStop?(): boolean;
}

/** A surrogate model for transfer attacks; `dispose` releases it. */
export interface Surrogate extends AttackTarget {
  dispose(): void;
}

export interface EvalContext {
  /**
   * Only the attack rows whose labels are here (corruptions are skipped too). The rows that run get the seeds they get in
   * a full evaluation, so a row's number is the same with or without the others (tools/reference-check reruns one row
   * at other seeds this way).
   */
  onlyRows?: ReadonlySet<string>;
  /** Data folder, where the published corruption files are looked for. */
  dataDir?: string;
  /** The model of the same sweep with this architecture and temperature (same dataset, seed and training), for `transfer`. */
  surrogate?(source: TransferConfig['source']): Promise<Surrogate>;
}

export interface EvalResult {
  cleanAccuracy: number;
  samples: number;
  calibration: Calibration;
  attacks: AttackResult[];
  evalSeconds: number;
}

export function modelTarget(model: tf.LayersModel, temperature: number): AttackTarget {
  return { logits: (images) => model.apply(images, { training: false }) as tf.Tensor2D, temperature };
}

export async function evaluateModel(model: tf.LayersModel, dataset: Dataset, job: Job, hooks: EvalHooks = {}, context: EvalContext = {}): Promise<EvalResult> {
  const started = performance.now();
  const samples = Math.min(job.eval.samples, dataset.test.count);
  const batchSize = job.eval.batchSize;
  const target = modelTarget(model, job.temperature);
  const batches = Math.ceil(samples / batchSize);

  // Sums per-batch tensors on the device; one read per (attack, eps), not per step. `perBatch` returns sums over its batch.
  // With `report`, each finished batch is reported to onAttackProgress. `limit`: only the first that many images (an
  // attack's own `samples`), in batches that start where the full run's do.
  async function overBatches(
    perBatch: (images: tf.Tensor4D, labels: tf.Tensor1D, batch: number, start: number) => tf.Tensor[],
    report = false,
    limit = samples,
  ): Promise<Float32Array[]> {
    let sums: tf.Tensor[] | undefined;
    const batches = Math.ceil(limit / batchSize);
    if (report) hooks.onAttackProgress?.({ batch: 0, batches });
    for (let start = 0, batch = 0; start < limit; start += batchSize, batch++) {
      if (hooks.shouldStop?.()) throw new InterruptedError('interrupted');
      const next = tf.tidy(() => {
        const { images, labels } = rangeTensors(dataset.test, dataset.imageShape, start, Math.min(batchSize, limit - start));
        const parts = perBatch(images, labels, batch, start);
        return sums ? parts.map((part, i) => tf.add(part, sums![i]!)) : parts;
      });
      sums?.forEach((t) => t.dispose());
      sums = next;
      if (report) hooks.onAttackProgress?.({ batch: batch + 1, batches });
      // Yield to the event loop so signals and progress redraws get through during long attacks.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const values = await Promise.all(sums!.map(async (t) => (await t.data()) as Float32Array));
    sums!.forEach((t) => t.dispose());
    return values;
  }

  const [correct, trainSums, unitSums] = await overBatches((images, labels) => {
    const logits = target.logits(images);
    return [
      tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), labels), 'float32')),
      calibrationSums(logits, labels, job.temperature),
      calibrationSums(logits, labels, 1),
    ];
  });
  const cleanAccuracy = correct![0]! / samples;
  const calibration: Calibration = {
    trainTemperature: calibrationFromSums(trainSums!, samples),
    unitTemperature: calibrationFromSums(unitSums!, samples),
    bins: ECE_BINS,
  };

  const labels = attackLabels(job.attacks);
  const wanted = (label: string) => !context.onlyRows || context.onlyRows.has(label);
  const corruptions = context.onlyRows ? undefined : job.corruptions;
  const corruptionCount = corruptions ? corruptions.types.length * corruptions.severities.length : 0;
  const total = labels.reduce((sum, row) => sum + row.filter(wanted).length, 0) + corruptionCount;
  const attacks: AttackResult[] = [];
  let index = 0;
  for (const [a, config] of job.attacks.entries()) {
    if (!labels[a]!.some(wanted)) continue;
    const surrogate = config.name === 'transfer' ? await surrogateFor(config, context) : undefined;
    try {
      for (const [e, eps] of config.eps.entries()) {
        const label = labels[a]![e]!;
        if (!wanted(label)) continue;
        hooks.onAttack?.({ label, kind: 'attack', index: index++, total, done: 0, samples: Math.min(config.samples ?? samples, samples) });
        const result = await runAttackRow(config, a, eps, label, surrogate);
        attacks.push(result);
        hooks.onResult?.(result);
      }
    } finally {
      surrogate?.dispose();
    }
  }

  async function runAttackRow(config: AttackConfig, a: number, eps: number, label: string, surrogate: Surrogate | undefined): Promise<AttackResult> {
    const spec = getAttack(config.name);
    const { loss, lossTemperature: configured } = attackLossOf(config);
    const lossTemperature = configured === 'train' ? job.temperature : configured;
    const resolvedLoss = attackLoss(loss === '' ? 'cw' : loss, lossTemperature ?? 1);
    const attackStarted = performance.now();
    let zeroGradients = false;
    const n = Math.min(config.samples ?? samples, samples);
    const [robust, zeroGradient] = await overBatches((images, batchLabels, batch) => {
      const seed = intSeed('attack', job.seed, a, eps, batch);
      const progress = (detail: string) => hooks.onAttackProgress?.({ batch, batches: Math.ceil(n / batchSize), detail });
      const output = spec.run({ target, images, labels: batchLabels, eps, loss: resolvedLoss, config, seed, progress, ...(surrogate ? { surrogate } : {}) });
      output.adversarial.dispose();
      zeroGradients = output.zeroGradient !== null;
      return [tf.sum(output.robust), output.zeroGradient ? tf.sum(output.zeroGradient) : tf.scalar(0)];
    }, true, n);
    return {
      label,
      attack: config.name,
      eps,
      loss,
      lossTemperature,
      robustAccuracy: robust![0]! / n,
      n,
      zeroGradFraction: zeroGradients ? zeroGradient![0]! / n : null,
      params: spec.params(config),
      wallSeconds: (performance.now() - attackStarted) / 1000,
      kind: 'attack',
      norm: attackNorm(config),
      access: spec.access,
      ...('target' in config ? { target: config.target } : {}),
    };
  }

  if (corruptions) {
    for (const type of corruptions.types) {
      const file = corruptions.source === 'generated' ? undefined : findCorruptionFile(dataset.name, context.dataDir ?? '', type);
      if ((corruptions.source === 'files' || isFileOnly(type)) && !file) {
        const why = isFileOnly(type) ? `${type} cannot be generated` : 'corruptions.source is "files"';
        throw new Error(`${why} but no ${type}.npy was found for ${dataset.name} in ${context.dataDir}; place the published CIFAR-10-C / CIFAR-100-C files there${isFileOnly(type) ? ` or drop ${type}` : ' or use source "generated"'}`);
      }
      for (const severity of corruptions.severities) {
        const label = corruptionLabel(type, severity);
        hooks.onAttack?.({ label, kind: 'corruption', index: index++, total, done: 0, samples });
        const result = await runCorruptionRow(type, severity, label, file);
        attacks.push(result);
        hooks.onResult?.(result);
      }
    }
  }

  async function runCorruptionRow(type: CorruptionType, severity: number, label: string, file: CorruptionFile | undefined): Promise<AttackResult> {
    const rowStarted = performance.now();
    const [h, w, c] = dataset.imageShape;
    let batchImages: Float32Array[] = [];
    // Corrupted pixels are made on the host (blurs, JPEG, elastic maps), batch by batch, then classified on the device.
    for (let start = 0, batch = 0; start < samples; start += batchSize, batch++) {
      const count = Math.min(batchSize, samples - start);
      if (file) {
        batchImages.push(file.read(severity, start, count));
      } else {
        const clean = tf.tidy(() => rangeTensors(dataset.test, dataset.imageShape, start, count).images);
        const pixels = (await clean.data()) as Float32Array;
        clean.dispose();
        batchImages.push(corruptImages(pixels, [count, h, w, c], type as GeneratedCorruptionType, severity, intSeed('corruption', job.seed, type, severity, batch)));
      }
    }
    const [correctCount] = await overBatches((_, batchLabels, batch) => [
      tf.tidy(() => tf.sum(correctMask(target, tf.tensor4d(batchImages[batch]!, [batchLabels.shape[0], h, w, c]), batchLabels))),
    ], true);
    batchImages = [];
    return {
      label,
      attack: type,
      eps: 0,
      loss: '',
      lossTemperature: null,
      robustAccuracy: correctCount![0]! / samples,
      n: samples,
      zeroGradFraction: null,
      params: { severity, source: file ? file.path : 'generated' },
      wallSeconds: (performance.now() - rowStarted) / 1000,
      kind: 'corruption',
      norm: '',
      severity,
      source: file ? file.path : 'generated',
    };
  }

  return { cleanAccuracy, samples, calibration, attacks, evalSeconds: (performance.now() - started) / 1000 };
}

function isFileOnly(type: CorruptionType): boolean {
  return (FILE_ONLY_CORRUPTIONS as readonly string[]).includes(type);
}

async function surrogateFor(config: TransferConfig, context: EvalContext): Promise<Surrogate> {
  if (!context.surrogate) throw new Error('transfer attacks need the sweep to provide the surrogate model');
  return context.surrogate(config.source);
}
