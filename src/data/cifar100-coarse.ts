// CIFAR-100 with its 20 coarse (superclass) labels: the same images and tarball as cifar100.
import { registerCifarDataset } from './cifar-binary.js';
import { CIFAR100_ARCHIVE, CIFAR100_NORMALIZATION, CIFAR100_TEST, CIFAR100_TRAIN } from './cifar100.js';

registerCifarDataset({
  name: 'cifar100-coarse',
  description: 'CIFAR-100 coarse labels (32x32x3, 20 superclasses): 50,000 train / 10,000 test',
  archive: CIFAR100_ARCHIVE,
  trainMembers: CIFAR100_TRAIN,
  testMembers: CIFAR100_TEST,
  // The coarse label is the first of each record's two label bytes.
  labelBytes: 2,
  labelOffset: 0,
  numClasses: 20,
  normalization: CIFAR100_NORMALIZATION,
});
