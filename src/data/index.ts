// Every dataset file registers itself on import; add a new dataset by adding a file and a line here.
import './mnist.js';
import './synthetic.js';

export { listDatasets, datasetSpec, loadDataset } from './registry.js';
export type { DataContext, Dataset, DatasetSpec, Split } from './types.js';
export { defaultDataDir } from './data-dir.js';
