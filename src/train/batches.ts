// Copies examples into contiguous batch buffers, so only whole batches cross into tfjs.
import * as tf from '@tensorflow/tfjs';
import { selectSplit, unitFloats, type Split } from '../data/types.js';

export interface Batch {
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
}

/** The examples at `indices`; `transform` (training augmentation) rewrites the batch's pixels before they become a tensor. */
export function batchTensors(
  split: Split,
  imageShape: [number, number, number],
  indices: ArrayLike<number>,
  transform?: (images: Float32Array, count: number) => Float32Array,
): Batch {
  const [h, w, c] = imageShape;
  const batch = selectSplit(split, h * w * c, indices);
  const pixels = unitFloats(batch.images);
  return {
    images: tf.tensor4d(transform ? transform(pixels, batch.count) : pixels, [batch.count, h, w, c]),
    labels: tf.tensor1d(batch.labels, 'int32'),
  };
}

/** The first `count` examples from `start` on, without copying through an index list. */
export function rangeTensors(split: Split, imageShape: [number, number, number], start: number, count: number): Batch {
  const [h, w, c] = imageShape;
  const size = h * w * c;
  return {
    images: tf.tensor4d(unitFloats(split.images.subarray(start * size, (start + count) * size)), [count, h, w, c]),
    labels: tf.tensor1d(split.labels.subarray(start, start + count), 'int32'),
  };
}
