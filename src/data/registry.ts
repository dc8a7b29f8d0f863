// Datasets register themselves by name; getDataset/listDatasets are the only doors.
import { contextSystemDirs } from './data-dir.js';
import type { DataContext, Dataset, DatasetSpec } from './types.js';

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

/** Loads a dataset once per process and set of folders searched (jobs of a sweep share it). */
export function loadDataset(name: string, context: DataContext): Promise<Dataset> {
  const key = [name, context.dataDir, ...contextSystemDirs(context)].join('\0');
  let pending = loaded.get(key);
  if (!pending) {
    pending = datasetSpec(name).load(context);
    loaded.set(key, pending);
    pending.catch(() => loaded.delete(key));
  }
  return pending;
}
