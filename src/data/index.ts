// Every dataset file registers itself on import; add a new dataset by adding a file and a line here.
import './mnist.js';
import './mnist-full.js';
import './fashion-mnist.js';
import './cifar10.js';
import './cifar100.js';
import './cifar100-coarse.js';
import './tiny-imagenet.js';
import './synthetic.js';

export { listDatasets, datasetSpec, loadDataset } from './registry.js';
export type { DataContext, DataLocation, Dataset, DatasetSpec, RemoteFile, Split } from './types.js';
export { defaultDataDir, systemDataDirs, DEFAULT_SYSTEM_DATA_DIRS } from './data-dir.js';
export { MissingDataError, kindLabel, searchFolders } from './files.js';
export { fetchDataset, downloadFile, FetchError, type FetchEvent, type FetchOptions, type FetchedFile } from './fetch.js';
