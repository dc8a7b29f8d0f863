// MNIST as published by LeCun, Cortes and Burges: 60,000 train and 10,000 test digits in four IDX files.
import { registerIdxDataset } from './idx.js';
import type { RemoteFile } from './types.js';

// yann.lecun.com no longer serves the files reliably; torchvision (pytorch/vision,
// torchvision/datasets/mnist.py) downloads the same files from this mirror first.
const MIRROR = 'https://ossci-datasets.s3.amazonaws.com/mnist/';
const FOLDER = 'mnist-full';

// Sizes and SHA-256 of LeCun's files from TensorFlow Datasets, tensorflow/datasets
// tensorflow_datasets/url_checksums/mnist.txt (listed there for the cvdf-datasets mirror of the same files).
// The unpacked files' SHA-256 as many third-party loaders pin them (those that check the gunzipped IDX files).
const file = (name: string, bytes: number, sha256: string, unpackedBytes: number, unpackedSha256: string): RemoteFile => ({
  name,
  folder: FOLDER,
  url: `${MIRROR}${name}`,
  bytes,
  sha256,
  unpacked: { bytes: unpackedBytes, sha256: unpackedSha256 },
});

registerIdxDataset({
  name: 'mnist-full',
  description: 'MNIST digits (28x28x1, 10 classes): 60,000 train / 10,000 test',
  source: `IDX files in <data-dir>/${FOLDER} (temper data fetch mnist-full: LeCun's files from ${MIRROR}) or <system-dir>/${FOLDER}`,
  numClasses: 10,
  // The usual MNIST statistics over the 60,000 training images, as in pytorch/examples mnist/main.py.
  normalization: { mean: [0.1307], std: [0.3081] },
  files: {
    trainImages: file('train-images-idx3-ubyte.gz', 9912422, '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
      47040016, 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db'),
    trainLabels: file('train-labels-idx1-ubyte.gz', 28881, '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
      60008, '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5'),
    testImages: file('t10k-images-idx3-ubyte.gz', 1648877, '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
      7840016, '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7'),
    testLabels: file('t10k-labels-idx1-ubyte.gz', 4542, 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
      10008, 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2'),
  },
});
