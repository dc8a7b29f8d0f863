// Datasets register themselves by name; getDataset/listDatasets are the only doors.
import type { Dataset, DatasetSpec } from './types.js';

const registry = new Map<string, DatasetSpec>();
const loaded = new Map<string, Promise<Dataset>>();

export function registerDataset(spec: DatasetSpec): void {
  if (registry.has(spec.name)) throw new Error(`dataset "${spec.name}" is registered twice`);
  registry.set(spec.name, spec);
}

export function listDatasets(): DatasetSpec[] {
  return [...registry.values()];
}

export function datasetSpec(name: string): DatasetSpec {
  const spec = registry.get(name);
  if (!spec) throw new Error(`unknown dataset "${name}"; expected one of: ${[...registry.keys()].join(', ')}`);
  return spec;
}

/** Loads a dataset once per process (jobs of a sweep share it). */
export function loadDataset(name: string): Promise<Dataset> {
  let pending = loaded.get(name);
  if (!pending) {
    pending = datasetSpec(name).load();
    loaded.set(name, pending);
    pending.catch(() => loaded.delete(name));
  }
  return pending;
}
