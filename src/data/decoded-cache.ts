// Decoded pixels kept on disk so that slow-to-decode datasets (JPEG archives) decode once per machine.
// The .bin holds train images, test images, train labels, test labels (one byte each), back to back;
// the .json beside it says the shape and counts and is written last, so a .bin without it is ignored.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.js';
import type { Dataset, Normalization } from './types.js';

const FORMAT = 'temper-decoded-v1';

export interface DecodedLayout {
  /** [height, width, channels]. */
  imageShape: [number, number, number];
  numClasses: number;
  trainCount: number;
  testCount: number;
}

/** Views into one buffer laid out exactly as the cache file. */
export interface DecodedArrays {
  layout: DecodedLayout;
  buffer: Uint8Array;
  trainImages: Uint8Array;
  testImages: Uint8Array;
  trainLabels: Uint8Array;
  testLabels: Uint8Array;
}

function byteLength({ imageShape: [h, w, c], trainCount, testCount }: DecodedLayout): number {
  return (trainCount + testCount) * (h * w * c + 1);
}

function views(layout: DecodedLayout, buffer: Uint8Array): DecodedArrays {
  const [h, w, c] = layout.imageShape;
  const trainBytes = layout.trainCount * h * w * c;
  const testBytes = layout.testCount * h * w * c;
  return {
    layout,
    buffer,
    trainImages: buffer.subarray(0, trainBytes),
    testImages: buffer.subarray(trainBytes, trainBytes + testBytes),
    trainLabels: buffer.subarray(trainBytes + testBytes, trainBytes + testBytes + layout.trainCount),
    testLabels: buffer.subarray(trainBytes + testBytes + layout.trainCount, byteLength(layout)),
  };
}

/** A zeroed buffer to decode into; labels are bytes, so at most 256 classes. */
export function allocateDecoded(layout: DecodedLayout): DecodedArrays {
  if (layout.numClasses > 256) throw new Error(`the decoded cache stores labels as bytes; ${layout.numClasses} classes do not fit`);
  return views(layout, new Uint8Array(byteLength(layout)));
}

/** The cached arrays, or undefined when the cache is absent, unfinished or of another format. */
export function readDecodedCache(binPath: string, metaPath: string): DecodedArrays | undefined {
  if (!existsSync(metaPath) || !existsSync(binPath)) return undefined;
  let meta: { format?: string; layout?: DecodedLayout };
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8')) as typeof meta;
  } catch {
    return undefined;
  }
  if (meta.format !== FORMAT || !meta.layout || statSync(binPath).size !== byteLength(meta.layout)) return undefined;
  const bytes = readFileSync(binPath);
  return views(meta.layout, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** Writes the .bin, then the .json that makes it valid, both atomically; `source` records what was decoded. */
export function writeDecodedCache(binPath: string, metaPath: string, arrays: DecodedArrays, source: Record<string, unknown>): void {
  writeFileAtomic(binPath, arrays.buffer);
  const meta = { format: FORMAT, layout: arrays.layout, source, order: 'train images, test images, train labels, test labels (uint8, NHWC)' };
  writeFileAtomic(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
}

export function decodedDataset(name: string, arrays: DecodedArrays, normalization: Normalization): Dataset {
  const { layout } = arrays;
  return {
    name,
    imageShape: layout.imageShape,
    numClasses: layout.numClasses,
    normalization,
    train: { images: arrays.trainImages, labels: Int32Array.from(arrays.trainLabels), count: layout.trainCount },
    test: { images: arrays.testImages, labels: Int32Array.from(arrays.testLabels), count: layout.testCount },
  };
}
