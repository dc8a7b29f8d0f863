// Architectures register themselves by name; createModel/listArchitectures are the only doors.
import type * as tf from '@tensorflow/tfjs';
import type { Normalization } from '../data/types.js';

export interface ModelOptions {
  inputShape: [number, number, number];
  numClasses: number;
  /** Seeds every initialiser, so a job's starting weights depend only on its seed. */
  seed: number;
  /** Per-channel statistics; when given, the model's first layer is Normalize, so inputs stay in [0, 1] pixels. */
  normalization?: Normalization;
}

export interface ArchitectureSpec {
  name: string;
  description: string;
  /** Builds a model whose output is the logits z (no softmax: temperature is applied in the loss). */
  build(options: ModelOptions): tf.LayersModel;
}

const registry = new Map<string, ArchitectureSpec>();

export function registerArchitecture(spec: ArchitectureSpec): void {
  if (registry.has(spec.name)) throw new Error(`architecture "${spec.name}" is registered twice`);
  registry.set(spec.name, spec);
}

export function listArchitectures(): ArchitectureSpec[] {
  return [...registry.values()];
}

export function createModel(name: string, options: ModelOptions): tf.LayersModel {
  const spec = registry.get(name);
  if (!spec) throw new Error(`unknown architecture "${name}"; expected one of: ${[...registry.keys()].join(', ')}`);
  return spec.build(options);
}
