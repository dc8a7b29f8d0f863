// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): Zalando article images in MNIST's IDX layout.
import { registerIdxDataset } from './idx.js';
import type { RemoteFile } from './types.js';

// The address the Fashion-MNIST README (zalandoresearch/fashion-mnist) links the files from.
const HOST = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
const FOLDER = 'fashion-mnist';
// Installs the four files, gzipped, into /usr/share/datasets/fashion-mnist/.
const PACKAGE = 'dataset-fashion-mnist';

// Sizes and SHA-256 from TensorFlow Datasets, tensorflow/datasets tensorflow_datasets/url_checksums/fashion_mnist.txt.
// The unpacked files' SHA-256 as third-party loaders pin them (e.g. those that check the gunzipped IDX files);
// Debian's dataset-fashion-mnist gzips the files again (other bytes), and its content matches these.
const file = (name: string, bytes: number, sha256: string, unpackedBytes: number, unpackedSha256: string): RemoteFile => ({
  name,
  folder: FOLDER,
  url: `${HOST}${name}`,
  bytes,
  sha256,
  unpacked: { bytes: unpackedBytes, sha256: unpackedSha256 },
});

registerIdxDataset({
  name: 'fashion-mnist',
  description: 'Fashion-MNIST clothing images (28x28x1, 10 classes): 60,000 train / 10,000 test',
  source: `IDX files in <data-dir>/${FOLDER} (temper data fetch fashion-mnist: ${HOST}) or <system-dir>/${FOLDER} (Debian: ${PACKAGE})`,
  systemPackage: PACKAGE,
  numClasses: 10,
  // Mean and std of the 60,000 training images (pixels / 255), the values used across the field.
  normalization: { mean: [0.286], std: [0.353] },
  files: {
    trainImages: file('train-images-idx3-ubyte.gz', 26421880, '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84',
      47040016, 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888'),
    trainLabels: file('train-labels-idx1-ubyte.gz', 29515, 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845',
      60008, 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9'),
    testImages: file('t10k-images-idx3-ubyte.gz', 4422102, '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073',
      7840016, '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b'),
    testLabels: file('t10k-labels-idx1-ubyte.gz', 5148, '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5',
      10008, '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34'),
  },
});
