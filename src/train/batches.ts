// Copies examples into contiguous batch buffers, so only whole batches cross into tfjs.
import * as tf from '@tensorflow/tfjs';
import type { Split } from '../data/types.js';

export interface Batch {
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
}

export function batchTensors(split: Split, imageShape: [number, number, number], indices: ArrayLike<number>): Batch {
  const [h, w, c] = imageShape;
  const size = h * w * c;
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const from = indices[i]!;
    images.set(split.images.subarray(from * size, (from + 1) * size), i * size);
    labels[i] = split.labels[from]!;
  }
  return { images: tf.tensor4d(images, [indices.length, h, w, c]), labels: tf.tensor1d(labels, 'int32') };
}

/** The first `count` examples from `start` on, without copying through an index list. */
export function rangeTensors(split: Split, imageShape: [number, number, number], start: number, count: number): Batch {
  const [h, w, c] = imageShape;
  const size = h * w * c;
  return {
    images: tf.tensor4d(split.images.subarray(start * size, (start + count) * size), [count, h, w, c]),
    labels: tf.tensor1d(split.labels.subarray(start, start + count), 'int32'),
  };
}
