// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): Zalando article images in MNIST's IDX layout.
import { registerIdxDataset } from './idx.js';
import type { RemoteFile } from './types.js';

// The address the Fashion-MNIST README (zalandoresearch/fashion-mnist) links the files from.
const HOST = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
const FOLDER = 'fashion-mnist';

// Sizes and SHA-256 from TensorFlow Datasets, tensorflow/datasets tensorflow_datasets/url_checksums/fashion_mnist.txt.
const file = (name: string, bytes: number, sha256: string): RemoteFile => ({ name, folder: FOLDER, url: `${HOST}${name}`, bytes, sha256 });

registerIdxDataset({
  name: 'fashion-mnist',
  description: 'Fashion-MNIST clothing images (28x28x1, 10 classes): 60,000 train / 10,000 test',
  source: `IDX files in <data-dir>/${FOLDER} (temper data fetch fashion-mnist: ${HOST})`,
  numClasses: 10,
  // Mean and std of the 60,000 training images (pixels / 255), the values used across the field.
  normalization: { mean: [0.286], std: [0.353] },
  files: {
    trainImages: file('train-images-idx3-ubyte.gz', 26421880, '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84'),
    trainLabels: file('train-labels-idx1-ubyte.gz', 29515, 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845'),
    testImages: file('t10k-images-idx3-ubyte.gz', 4422102, '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073'),
    testLabels: file('t10k-labels-idx1-ubyte.gz', 5148, '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5'),
  },
});
