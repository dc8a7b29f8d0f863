// The registered names the config is checked against, and what the checks need to know of each dataset.
import { listDatasets } from '../data/index.js';
import { listArchitectures } from '../models/index.js';

export function registeredNames(): { datasets: string[]; architectures: string[]; imageShapes: Record<string, [number, number, number]> } {
  const datasets = listDatasets();
  return {
    datasets: datasets.map((d) => d.name),
    architectures: listArchitectures().map((a) => a.name),
    imageShapes: Object.fromEntries(datasets.map((d) => [d.name, d.imageShape])),
  };
}
