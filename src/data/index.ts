// Every dataset file registers itself on import; add a new dataset by adding a file and a line here.
import './mnist.js';
import './synthetic.js';

export { listDatasets, datasetSpec, loadDataset } from './registry.js';
export type { Dataset, DatasetSpec, Split } from './types.js';
