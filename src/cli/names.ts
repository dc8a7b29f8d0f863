// The registered names the config is checked against.
import { listDatasets } from '../data/index.js';
import { listArchitectures } from '../models/index.js';

export function registeredNames(): { datasets: string[]; architectures: string[] } {
  return { datasets: listDatasets().map((d) => d.name), architectures: listArchitectures().map((a) => a.name) };
}
