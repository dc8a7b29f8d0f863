// CIFAR-10 (Krizhevsky, 2009): 50,000 train / 10,000 test 32x32 colour images of 10 classes.
import { registerCifarDataset } from './cifar-binary.js';

const BATCHES = 'cifar-10-batches-bin';

registerCifarDataset({
  name: 'cifar10',
  description: 'CIFAR-10 (32x32x3, 10 classes): 50,000 train / 10,000 test',
  archive: {
    name: 'cifar-10-binary.tar.gz',
    folder: 'cifar10',
    url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
    // Size and SHA-256 from TensorFlow Datasets, tensorflow/datasets tensorflow_datasets/url_checksums/cifar10.txt.
    bytes: 170052171,
    sha256: 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd',
  },
  trainMembers: [1, 2, 3, 4, 5].map((i) => `${BATCHES}/data_batch_${i}.bin`),
  testMembers: [`${BATCHES}/test_batch.bin`],
  labelBytes: 1,
  labelOffset: 0,
  numClasses: 10,
  // Per-channel mean and (population) std of the 50,000 training images, the values in common use.
  normalization: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] },
});
