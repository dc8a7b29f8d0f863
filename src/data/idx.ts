// IDX, the format of MNIST and Fashion-MNIST (yann.lecun.com/exdb/mnist): a big-endian magic number
// (two zero bytes, type 0x08 = unsigned byte, the number of dimensions), each dimension as a
// big-endian uint32, then the bytes, row-major. Read gzipped (as distributed, or gzipped again as Debian
// ships them) or unpacked; every load checks the format and the published checksums (checksum.ts).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { warnIfNotPublished } from './checksum.js';
import { locateFiles, requireFiles } from './files.js';
import { registerDataset } from './registry.js';
import type { DataContext, DataLocation, Dataset, Normalization, RemoteFile, Split } from './types.js';

/** 0x00000803: unsigned bytes in 3 dimensions (images, rows, columns). */
export const IDX_IMAGES_MAGIC = 2051;
/** 0x00000801: unsigned bytes in 1 dimension (labels). */
export const IDX_LABELS_MAGIC = 2049;

interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** The bytes, gunzipped first when they start with the gzip magic 1f 8b; errors name `path`. */
export function gunzipIfGzipped(raw: Uint8Array, path: string): Uint8Array {
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  try {
    return gunzipSync(raw);
  } catch (error) {
    throw new Error(`${path}: not a readable gzip file (${(error as Error).message}); it may be truncated or damaged: replace it with the official file`);
  }
}

/** Parses IDX bytes (already gunzipped): the magic number, the dimensions, and exactly as many data bytes as they say. */
export function parseIdx(bytes: Uint8Array, path: string, expectedMagic: number): IdxArray {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = bytes.length >= 4 ? view.getUint32(0) : -1;
  if (magic !== expectedMagic) {
    const kind = expectedMagic === IDX_IMAGES_MAGIC ? 'IDX image file' : 'IDX label file';
    const found = bytes.length >= 4 ? `magic number is ${magic}` : `only ${bytes.length} bytes, no magic number`;
    throw new Error(`${path}: not an ${kind}: ${found}, expected ${expectedMagic}`);
  }
  const rank = magic & 0xff;
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new Error(`${path}: IDX header cut short (${bytes.length} bytes)`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = dims.reduce((product, d) => product * d, 1);
  if (bytes.length - headerBytes !== expected) {
    throw new Error(`${path}: header says ${dims.join('x')} = ${expected} bytes of data, found ${bytes.length - headerBytes} (truncated or not this file)`);
  }
  // A plain Uint8Array view: Buffer's slice() shares memory where Uint8Array's copies.
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, expected) };
}

/** Reads, checks the format of, and checks against the published checksums one IDX file of `location`. */
function readIdxFile(dataset: string, context: DataContext, location: DataLocation, file: RemoteFile, path: string, expectedMagic: number): IdxArray {
  const raw = readFileSync(path);
  const bytes = gunzipIfGzipped(raw, path);
  const parsed = parseIdx(bytes, path, expectedMagic);
  warnIfNotPublished(dataset, context, location, file, path, raw, bytes);
  return parsed;
}

function readSplit(dataset: string, context: DataContext, location: DataLocation, files: [RemoteFile, RemoteFile], paths: [string, string], shape: [number, number], numClasses: number): Split {
  const pixels = readIdxFile(dataset, context, location, files[0], paths[0], IDX_IMAGES_MAGIC);
  const classes = readIdxFile(dataset, context, location, files[1], paths[1], IDX_LABELS_MAGIC);
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
  /** The Debian package that installs the files into a system dataset folder, where there is one. */
  systemPackage?: string;
}

/** Registers a 28x28 grayscale dataset stored as the four IDX files of the MNIST layout. */
export function registerIdxDataset({ name, description, source, files, normalization, numClasses, systemPackage }: IdxDatasetOptions): void {
  const all = [files.trainImages, files.trainLabels, files.testImages, files.testLabels];
  registerDataset({
    name,
    imageShape: [28, 28, 1],
    numClasses,
    description,
    source,
    files: all,
    present: (context) => locateFiles(context, all) !== undefined,
    location: (context) => locateFiles(context, all),
    load: async (context): Promise<Dataset> => {
      const location = requireFiles(name, context, all, systemPackage);
      const [trainImages, trainLabels, testImages, testLabels] = location.paths as [string, string, string, string];
      return {
        name,
        imageShape: [28, 28, 1],
        numClasses,
        normalization,
        train: readSplit(name, context, location, [files.trainImages, files.trainLabels], [trainImages, trainLabels], [28, 28], numClasses),
        test: readSplit(name, context, location, [files.testImages, files.testLabels], [testImages, testLabels], [28, 28], numClasses),
      };
    },
  });
}
