// IDX, the format of MNIST and Fashion-MNIST (yann.lecun.com/exdb/mnist): a big-endian magic number
// (two zero bytes, type 0x08 = unsigned byte, the number of dimensions), each dimension as a
// big-endian uint32, then the bytes, row-major. Read gzipped (as distributed) or unpacked.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { missingFileError } from './files.js';
import { registerDataset } from './registry.js';
import type { DataContext, Dataset, Normalization, RemoteFile, Split } from './types.js';

/** 0x00000803: unsigned bytes in 3 dimensions (images, rows, columns). */
export const IDX_IMAGES_MAGIC = 2051;
/** 0x00000801: unsigned bytes in 1 dimension (labels). */
export const IDX_LABELS_MAGIC = 2049;

interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parses IDX bytes (gunzipping them first when they start with the gzip magic 1f 8b); errors name `path`. */
export function parseIdx(raw: Uint8Array, path: string, expectedMagic: number): IdxArray {
  let bytes = raw;
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      bytes = gunzipSync(raw);
    } catch (error) {
      throw new Error(`${path}: not a readable gzip file (${(error as Error).message}); delete it and fetch it again`);
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = bytes.length >= 4 ? view.getUint32(0) : -1;
  if (magic !== expectedMagic) {
    const kind = expectedMagic === IDX_IMAGES_MAGIC ? 'IDX image file' : 'IDX label file';
    throw new Error(`${path}: not an ${kind}: magic number is ${magic}, expected ${expectedMagic}`);
  }
  const rank = magic & 0xff;
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new Error(`${path}: IDX header cut short (${bytes.length} bytes)`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = dims.reduce((product, d) => product * d, 1);
  if (bytes.length - headerBytes !== expected) {
    throw new Error(`${path}: header says ${dims.join('x')} = ${expected} bytes of data, found ${bytes.length - headerBytes}`);
  }
  // A plain Uint8Array view: Buffer's slice() shares memory where Uint8Array's copies.
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, expected) };
}

/** The path of an IDX file as distributed (`.gz`) or unpacked (without `.gz`), whichever is there. */
function idxPath(context: DataContext, file: RemoteFile): string | undefined {
  const gzipped = join(context.dataDir, file.folder, file.name);
  const unpacked = gzipped.replace(/\.gz$/, '');
  return [gzipped, unpacked].find((path) => existsSync(path));
}

function readSplit(dataset: string, context: DataContext, images: RemoteFile, labels: RemoteFile, shape: [number, number], numClasses: number): Split {
  const paths = [images, labels].map((file) => {
    const path = idxPath(context, file);
    if (!path) throw missingFileError(dataset, context, file, [file.name.replace(/\.gz$/, '')]);
    return path;
  }) as [string, string];
  const pixels = parseIdx(readFileSync(paths[0]), paths[0], IDX_IMAGES_MAGIC);
  const classes = parseIdx(readFileSync(paths[1]), paths[1], IDX_LABELS_MAGIC);
  const [count, rows, columns] = pixels.dims as [number, number, number];
  if (rows !== shape[0] || columns !== shape[1]) {
    throw new Error(`${paths[0]}: images are ${rows}x${columns}, expected ${shape[0]}x${shape[1]}`);
  }
  if (classes.dims[0] !== count) throw new Error(`${paths[1]}: ${classes.dims[0]} labels for the ${count} images of ${paths[0]}`);
  const outOfRange = classes.data.findIndex((label) => label >= numClasses);
  if (outOfRange >= 0) throw new Error(`${paths[1]}: label ${classes.data[outOfRange]} at index ${outOfRange}, expected 0..${numClasses - 1}`);
  return { images: pixels.data, labels: Int32Array.from(classes.data), count };
}

export interface IdxDatasetFiles {
  trainImages: RemoteFile;
  trainLabels: RemoteFile;
  testImages: RemoteFile;
  testLabels: RemoteFile;
}

export interface IdxDatasetOptions {
  name: string;
  description: string;
  source: string;
  files: IdxDatasetFiles;
  normalization: Normalization;
  numClasses: number;
}

/** Registers a 28x28 grayscale dataset stored as the four IDX files of the MNIST layout. */
export function registerIdxDataset({ name, description, source, files, normalization, numClasses }: IdxDatasetOptions): void {
  const all = [files.trainImages, files.trainLabels, files.testImages, files.testLabels];
  registerDataset({
    name,
    imageShape: [28, 28, 1],
    numClasses,
    description,
    source,
    files: all,
    present: (context) => all.every((file) => idxPath(context, file) !== undefined),
    load: async (context): Promise<Dataset> => ({
      name,
      imageShape: [28, 28, 1],
      numClasses,
      normalization,
      train: readSplit(name, context, files.trainImages, files.trainLabels, [28, 28], numClasses),
      test: readSplit(name, context, files.testImages, files.testLabels, [28, 28], numClasses),
    }),
  });
}
