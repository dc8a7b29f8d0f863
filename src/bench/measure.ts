// Step throughput of one backend: a training step and a PGD step per benchmark model, timed after warm-up.
// Runs in the process whose tfjs backend is already initialised (src/backend/index.ts allows one per process).
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { BackendInfo } from '../backend/index.js';
import { wasmThreadsInUse } from '../backend/wasm-threads.js';
import { optimizerSchema } from '../config/schema.js';
import { smoothedTemperatureCrossEntropy, attackLoss } from '../attacks/losses.js';
import { inputGradient, linfStep, projectLinf, type AttackTarget } from '../attacks/attack.js';
import { createOptimizer, disposeOptimizer } from '../train/optimizers.js';
import { rng } from '../util/rng.js';
import { plural } from '../util/text.js';
import { BENCH_MODEL_SPECS, DEFAULT_BENCH_MODELS, type BenchModelName, type BenchModelSpec } from './models.js';
import { profileStep, type StepProfile } from './profile.js';

export const BENCH_KINDS = ['train', 'pgd'] as const;
export type BenchKind = (typeof BENCH_KINDS)[number];

/** Temperature of the training loss, as in PERF.md: CE(softmax(z / 10), y). */
export const BENCH_TEMPERATURE = 10;
/** Radius and step size of the PGD step (the CIFAR-10 Linf convention). */
export const BENCH_EPS = 8 / 255;
export const BENCH_STEP_SIZE = 2 / 255;

/** How one measurement is taken, resolved from the settings and the backend (planFor). */
export interface StepPlan {
  batch: number;
  /** Untimed steps first (kernel setup, optimiser slots, caches). */
  warmupSteps: number;
  /** Timing stops once at least minSteps ran and minSeconds passed... */
  minSteps: number;
  minSeconds: number;
  /** ...or once maxSeconds of timed steps passed (at least one timed step always runs). */
  maxSeconds: number;
}

/** Every backend but cpu: batch 128, 2 warm-up steps, at least 3 timed steps. */
export const STANDARD_PLAN = { batch: 128, warmupSteps: 2, minSteps: 3 } as const;
/**
 * The cpu backend (pure JavaScript) trains cnn-small at about 1 image/s and takes 20-60 s for one vgg6-bn step at
 * batch 1 (its Conv2DBackpropFilter is a plain loop, and the fused conv's gradient computes it in PGD too), so it
 * measures small batches with 1 warm-up and at least 1 timed step; resnet18 and vit-tiny do more work per image than
 * vgg6-bn, so batch 1 as well. Its images/s are a little pessimistic (fixed per-step costs weigh more at small
 * batches) but of the right order.
 */
export const CPU_PLAN = {
  batch: { 'cnn-small': 16, 'vgg6-bn': 1, resnet18: 1, 'vit-tiny': 1 } as Record<BenchModelName, number>,
  warmupSteps: 1,
  minSteps: 1,
} as const;

export interface BenchSettings {
  /** Unset: the backend's plan (STANDARD_PLAN, or CPU_PLAN on cpu); set: the same for every backend. */
  batch?: number;
  warmupSteps?: number;
  minSteps?: number;
  minSeconds: number;
  maxSeconds: number;
  models: BenchModelName[];
  kinds: BenchKind[];
  /** Seeds the weights, the images and labels, and the PGD random start. */
  seed: number;
  /** After the timed steps of each measurement, one more step under tf.profile (profile.ts); not among the timed ones. */
  profile: boolean;
}

export const DEFAULT_BENCH_SETTINGS: BenchSettings = {
  minSeconds: 2,
  maxSeconds: 60,
  models: [...DEFAULT_BENCH_MODELS],
  kinds: [...BENCH_KINDS],
  seed: 0,
  profile: false,
};

export function planFor(backend: string, model: BenchModelName, settings: BenchSettings): StepPlan {
  const cpu = backend === 'cpu';
  return {
    batch: settings.batch ?? (cpu ? CPU_PLAN.batch[model] : STANDARD_PLAN.batch),
    warmupSteps: settings.warmupSteps ?? (cpu ? CPU_PLAN.warmupSteps : STANDARD_PLAN.warmupSteps),
    minSteps: settings.minSteps ?? (cpu ? CPU_PLAN.minSteps : STANDARD_PLAN.minSteps),
    minSeconds: settings.minSeconds,
    maxSeconds: settings.maxSeconds,
  };
}

/** On cpu, what CPU_PLAN changed (only what the settings left to the backend), in words; null elsewhere. */
function cpuNote(backend: string, settings: BenchSettings): string | null {
  if (backend !== 'cpu') return null;
  const changes: string[] = [];
  if (settings.batch === undefined) {
    changes.push(`batch ${settings.models.map((model) => `${CPU_PLAN.batch[model]} for ${model}`).join(', ')} instead of ${STANDARD_PLAN.batch}`);
  }
  if (settings.warmupSteps === undefined) changes.push(`${CPU_PLAN.warmupSteps} warm-up step instead of ${STANDARD_PLAN.warmupSteps}`);
  if (settings.minSteps === undefined) changes.push(`at least ${CPU_PLAN.minSteps} timed step instead of ${STANDARD_PLAN.minSteps}`);
  if (changes.length === 0) return null;
  return `cpu: ${changes.join(', ')} (pure JavaScript: about 1 image/s for cnn-small, tens of seconds per vgg6-bn step)`;
}

export interface MemorySnapshot {
  numTensors: number;
  numBytes: number;
}

/** How one kind of step was timed, and what came of it: the fields temper and the PyTorch peer (peer.ts) share. */
export interface StepTiming {
  batch: number;
  warmupSteps: number;
  /** Timed steps. */
  steps: number;
  /** Every timed step, in milliseconds, in order. */
  stepMs: number[];
  /** Median of stepMs; null when the measurement failed. */
  msPerStep: number | null;
  /** batch / median step time. */
  imagesPerSecond: number | null;
  /** True when maxSeconds stopped timing before minSteps and minSeconds were both reached. */
  capped: boolean;
  /** Why the measurement failed (e.g. a kernel the backend lacks); null when it ran. */
  error: string | null;
}

export interface Measurement extends StepTiming {
  model: BenchModelName;
  inputShape: [number, number, number];
  what: BenchKind;
  /** tf.memory() after warm-up and after the last timed step: growth is a leak of the step. */
  memory: { before: MemorySnapshot | null; after: MemorySnapshot | null };
  /** With --profile, one more step under tf.profile after the timed ones: where its time went; null otherwise or when the step failed. */
  profile: StepProfile | null;
}

/** What one backend measured, or why it did not load. */
export interface BackendResult {
  /** The backend asked for: tensorflow, wasm or cpu. */
  backend: string;
  loaded: boolean;
  /** Why it did not load, or why its process gave no result; null otherwise. */
  error: string | null;
  /** The package that provides it, e.g. @tensorflow/tfjs-backend-wasm, and that package's version. */
  provider: string | null;
  providerVersion: string | null;
  /** What it runs on: "simd on, 2 threads" for wasm, GPU or CPU build for tensorflow, "pure JavaScript" for cpu. */
  device: string | null;
  /** Project kernels registered on top of the stock ones ([] with TEMPER_STOCK_KERNELS=1, and off wasm). */
  projectKernels: string[];
  /** Anything that changes how to read the numbers (a reduced batch). */
  notes: string[];
  measurements: Measurement[];
}

export type BenchLog = (line: string) => void;

export function memorySnapshot(): MemorySnapshot {
  const { numTensors, numBytes } = tf.memory();
  return { numTensors, numBytes };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Seeded images in [0, 1] and labels in [0, classes). */
function benchInputs(spec: BenchModelSpec, batch: number, seed: number): { images: tf.Tensor4D; labels: tf.Tensor1D } {
  const images = tf.randomUniform([batch, ...spec.inputShape], 0, 1, 'float32', seed) as tf.Tensor4D;
  const random = rng('bench-labels', spec.name, seed);
  const labels = Int32Array.from({ length: batch }, () => Math.floor(random() * spec.numClasses));
  return { images, labels: tf.tensor1d(labels, 'int32') };
}

/** Waits until `t` is computed, by reading one element of it (async backends return before the work is done). */
async function settle(t: tf.Tensor): Promise<void> {
  const probe = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), [0], [1]));
  await probe.data();
  probe.dispose();
}

/** A step function and what it holds; dispose frees everything the step keeps between calls. */
interface Stepper {
  step(): Promise<void>;
  dispose(): void;
}

/** The project's training step (src/train/train.ts): adam on mean CE(z / T), inside tf.tidy, no weight decay. */
function trainStepper(model: tf.LayersModel, images: tf.Tensor4D, labels: tf.Tensor1D): Stepper {
  const optimizer = createOptimizer(optimizerSchema.parse({ name: 'adam' }));
  const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  return {
    async step() {
      const cost = tf.tidy(
        () =>
          optimizer.minimize(
            () => tf.mean(smoothedTemperatureCrossEntropy(model.apply(images, { training: true }) as tf.Tensor2D, labels, BENCH_TEMPERATURE, 0)) as tf.Scalar,
            true,
            variables,
          )!,
      );
      await settle(cost);
      cost.dispose();
    },
    dispose: () => disposeOptimizer(optimizer),
  };
}

/** One PGD-Linf step as src/attacks/pgd.ts takes it: input gradient of CE at T = 1, sign step, projection. */
function pgdStepper(model: tf.LayersModel, images: tf.Tensor4D, labels: tf.Tensor1D, seed: number): Stepper {
  const target: AttackTarget = { logits: (x) => model.apply(x, { training: false }) as tf.Tensor2D, temperature: 1 };
  const loss = attackLoss('ce', 1);
  let adversarial = tf.tidy(() => projectLinf(tf.add(images, tf.randomUniform(images.shape, -BENCH_EPS, BENCH_EPS, 'float32', seed)), images, BENCH_EPS));
  return {
    async step() {
      const gradient = inputGradient(target, loss, adversarial, labels);
      const next = linfStep(adversarial, gradient, images, BENCH_STEP_SIZE, BENCH_EPS);
      tf.dispose([gradient, adversarial]);
      adversarial = next;
      await settle(next);
    },
    dispose: () => adversarial.dispose(),
  };
}

/** Warm-up, then timed steps until minSteps and minSeconds are both reached, or maxSeconds passed. */
async function timeSteps(step: () => Promise<void>, plan: StepPlan, measurement: Measurement): Promise<void> {
  for (let i = 0; i < plan.warmupSteps; i++) await step();
  measurement.memory.before = memorySnapshot();
  const started = performance.now();
  for (;;) {
    const stepStarted = performance.now();
    await step();
    const now = performance.now();
    measurement.stepMs.push(now - stepStarted);
    const seconds = (now - started) / 1000;
    const enough = measurement.stepMs.length >= plan.minSteps && seconds >= plan.minSeconds;
    if (enough) break;
    if (seconds >= plan.maxSeconds) {
      measurement.capped = true;
      break;
    }
  }
  measurement.memory.after = memorySnapshot();
  measurement.steps = measurement.stepMs.length;
  measurement.msPerStep = median(measurement.stepMs);
  measurement.imagesPerSecond = (measurement.batch * 1000) / measurement.msPerStep;
}

/**
 * Measures one model and one kind of step on the current backend. Builds the model and inputs, times the steps (then,
 * with `profile`, runs one more under tf.profile, outside the timed ones), and frees everything it made. A step that
 * throws (e.g. a kernel the backend lacks) is returned as the measurement's error, not thrown; tfjs then keeps the
 * tensors its gradient tape had saved, so later measurements start a few tensors higher.
 */
export async function measureStep(modelName: BenchModelName, what: BenchKind, plan: StepPlan, seed: number, profile = false): Promise<Measurement> {
  const spec = BENCH_MODEL_SPECS[modelName];
  const measurement: Measurement = {
    model: modelName,
    inputShape: spec.inputShape,
    what,
    batch: plan.batch,
    warmupSteps: plan.warmupSteps,
    steps: 0,
    stepMs: [],
    msPerStep: null,
    imagesPerSecond: null,
    capped: false,
    memory: { before: null, after: null },
    error: null,
    profile: null,
  };
  let model: tf.LayersModel | undefined;
  let inputs: { images: tf.Tensor4D; labels: tf.Tensor1D } | undefined;
  let stepper: Stepper | undefined;
  try {
    model = spec.build(seed);
    inputs = benchInputs(spec, plan.batch, seed);
    stepper = what === 'train' ? trainStepper(model, inputs.images, inputs.labels) : pgdStepper(model, inputs.images, inputs.labels, seed + 1);
    await timeSteps(stepper.step, plan, measurement);
    if (profile) measurement.profile = await profileStep(stepper.step);
  } catch (error) {
    measurement.error = firstLine(error);
    measurement.msPerStep = null;
    measurement.imagesPerSecond = null;
  } finally {
    stepper?.dispose();
    if (inputs) tf.dispose([inputs.images, inputs.labels]);
    model?.dispose();
  }
  return measurement;
}

/** What the backend runs on, in words. */
export function deviceOf(info: BackendInfo): string {
  if (info.name === 'wasm') {
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const threads = wasmThreadsInUse();
    return `simd ${simd ? 'on' : 'off'}, ${threads} thread${threads === 1 ? '' : 's'}`;
  }
  if (info.name === 'tensorflow') {
    // tfjs-node's backend says whether libtensorflow found a GPU (duck-typed: the type is not in @tensorflow/tfjs).
    const backend = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
    return backend.isUsingGpuDevice === undefined ? 'libtensorflow' : backend.isUsingGpuDevice ? 'libtensorflow on a GPU' : 'libtensorflow on the CPU';
  }
  if (info.name === 'cpu') return 'pure JavaScript';
  // Others (webgpu: the adapter): BackendInfo has no device field, but a requested backend's reason ends in the probe's
  // detail, "requested with --backend NAME (DETAIL)".
  const prefix = `requested with --backend ${info.name} (`;
  return info.reason.startsWith(prefix) && info.reason.endsWith(')') ? info.reason.slice(prefix.length, -1) : info.name;
}

/** Version of the package that provides the backend, from its package.json (not every backend package exports one). */
export function providerVersion(info: BackendInfo): string | null {
  // The provider names the package first, e.g. "@tensorflow/tfjs-backend-webgpu on Dawn (webgpu)".
  const name = info.provider.split(' ')[0]!;
  try {
    let dir = dirname(createRequire(import.meta.url).resolve(name));
    for (;;) {
      const path = join(dir, 'package.json');
      if (existsSync(path)) {
        const manifest = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
        if (manifest.name === name) return manifest.version ?? null;
      }
      if (dirname(dir) === dir) return null;
      dir = dirname(dir);
    }
  } catch {
    return null;
  }
}

/** Every requested model and kind of step on the backend this process initialised. */
export async function measureBackend(info: BackendInfo, settings: BenchSettings, log: BenchLog = () => {}): Promise<BackendResult> {
  const result: BackendResult = {
    backend: info.name,
    loaded: true,
    error: null,
    provider: info.provider,
    providerVersion: providerVersion(info),
    device: deviceOf(info),
    projectKernels: [...info.projectKernels],
    notes: [],
    measurements: [],
  };
  const note = cpuNote(info.name, settings);
  if (note !== null) result.notes.push(note);
  for (const model of settings.models) {
    for (const what of settings.kinds) {
      const plan = planFor(info.name, model, settings);
      log(`bench ${info.name}: ${model} ${what} step, batch ${plan.batch}...`);
      const measurement = await measureStep(model, what, plan, settings.seed, settings.profile);
      log(`bench ${info.name}: ${model} ${what}: ${describeMeasurement(measurement)}`);
      result.measurements.push(measurement);
    }
  }
  return result;
}

export function describeMeasurement(m: Pick<Measurement, 'error' | 'msPerStep' | 'imagesPerSecond' | 'steps' | 'capped'>): string {
  if (m.error !== null) return `failed: ${m.error}`;
  const capped = m.capped ? ' (capped)' : '';
  return `${m.msPerStep!.toFixed(1)} ms/step, ${formatRate(m.imagesPerSecond!)} images/s over ${plural(m.steps!, 'step')}${capped}`;
}

/** Images/s for people: whole numbers from 100 on, three significant digits below (cpu manages 0.04). */
export function formatRate(imagesPerSecond: number): string {
  return imagesPerSecond >= 100 ? imagesPerSecond.toFixed(0) : imagesPerSecond.toPrecision(3);
}

export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!;
}
