// CIFAR-100 (Krizhevsky, 2009) with its 100 fine labels: 50,000 train / 10,000 test 32x32 colour images.
import { registerCifarDataset } from './cifar-binary.js';
import type { Normalization, RemoteFile } from './types.js';

/** Shared with cifar100-coarse: the same tarball, whose records carry both labels. */
export const CIFAR100_ARCHIVE: RemoteFile = {
  name: 'cifar-100-binary.tar.gz',
  folder: 'cifar100',
  url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
  // Size and SHA-256 from TensorFlow Datasets, tensorflow/datasets tensorflow_datasets/url_checksums/cifar100.txt.
  bytes: 168513733,
  sha256: '58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec',
};

export const CIFAR100_TRAIN = ['cifar-100-binary/train.bin'];
export const CIFAR100_TEST = ['cifar-100-binary/test.bin'];

// Per-channel statistics of the 50,000 training images, as computed in weiaicunzai/pytorch-cifar100
// (conf/global_settings.py), rounded to 4 places.
export const CIFAR100_NORMALIZATION: Normalization = { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] };

registerCifarDataset({
  name: 'cifar100',
  description: 'CIFAR-100 fine labels (32x32x3, 100 classes): 50,000 train / 10,000 test',
  archive: CIFAR100_ARCHIVE,
  trainMembers: CIFAR100_TRAIN,
  testMembers: CIFAR100_TEST,
  // Each record is <coarse label byte><fine label byte><3072 pixel bytes>.
  labelBytes: 2,
  labelOffset: 1,
  numClasses: 100,
  normalization: CIFAR100_NORMALIZATION,
});
