// The CIFAR "binary version" tarballs (www.cs.toronto.edu/~kriz/cifar.html): each record is its label
// byte(s) then 3072 pixel bytes: the 1024 red values of the 32x32 image row by row, then green, then blue.
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { digester, warnIfDigestNotPublished, type Digest } from './checksum.js';
import { locateFiles, requireFiles } from './files.js';
import { registerDataset } from './registry.js';
import type { Dataset, Normalization, RemoteFile, Split } from './types.js';

const SIDE = 32;
const PLANE = SIDE * SIDE;
const PIXELS = 3 * PLANE;

/** The bytes of the members named in `wanted`, streamed out of a .tar.gz without unpacking it to disk, and the archive's digest. */
export async function readTarGzMembers(path: string, wanted: string[]): Promise<{ members: Map<string, Uint8Array>; digest: Digest }> {
  const found = new Map<string, Uint8Array>();
  const extract = tarStream.extract();
  // The checksum is taken in the same pass that reads the archive: no second read of 170 MB.
  const hash = digester(false);
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const feeding = pipeline(createReadStream(path), tap, createGunzip(), extract);
  // A gunzip or read error reaches the loop below through `extract`; this keeps it from also being unhandled.
  feeding.catch(() => {});
  try {
    for await (const entry of extract) {
      if (!wanted.includes(entry.header.name)) {
        entry.resume();
        continue;
      }
      const bytes = new Uint8Array(entry.header.size ?? 0);
      let offset = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        bytes.set(chunk, offset);
        offset += chunk.length;
      }
      found.set(entry.header.name, bytes);
    }
    await feeding;
  } catch (error) {
    throw new Error(`${path}: cannot read the tar.gz archive (${(error as Error).message}); it may be truncated or damaged: delete it and fetch it again`);
  }
  const missing = wanted.filter((name) => !found.has(name));
  if (missing.length > 0) {
    throw new Error(`${path}: the archive has no ${missing.join(', ')}; expected the official CIFAR binary version`);
  }
  return { members: found, digest: hash.digest() };
}

/** Records to an NHWC split: the channel-planar pixels interleaved per pixel, the label at `labelOffset`. */
export function cifarRecords(members: Array<[string, Uint8Array]>, labelBytes: number, labelOffset: number, numClasses: number): Split {
  const recordBytes = labelBytes + PIXELS;
  for (const [name, bytes] of members) {
    if (bytes.length % recordBytes !== 0) throw new Error(`${name}: ${bytes.length} bytes is not a whole number of ${recordBytes}-byte records`);
  }
  const count = members.reduce((sum, [, bytes]) => sum + bytes.length / recordBytes, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  let index = 0;
  for (const [name, bytes] of members) {
    for (let start = 0; start < bytes.length; start += recordBytes, index++) {
      const label = bytes[start + labelOffset]!;
      if (label >= numClasses) throw new Error(`${name}: label ${label} in record ${start / recordBytes}, expected 0..${numClasses - 1}`);
      labels[index] = label;
      const pixels = start + labelBytes;
      const out = index * PIXELS;
      for (let p = 0; p < PLANE; p++) {
        images[out + 3 * p] = bytes[pixels + p]!;
        images[out + 3 * p + 1] = bytes[pixels + PLANE + p]!;
        images[out + 3 * p + 2] = bytes[pixels + 2 * PLANE + p]!;
      }
    }
  }
  return { images, labels, count };
}

export interface CifarDatasetOptions {
  name: string;
  description: string;
  archive: RemoteFile;
  /** Member paths inside the archive, in order. */
  trainMembers: string[];
  testMembers: string[];
  /** 1 for CIFAR-10 (label), 2 for CIFAR-100 (coarse label, fine label). */
  labelBytes: number;
  /** Which of the label bytes is the class. */
  labelOffset: number;
  numClasses: number;
  normalization: Normalization;
}

/** Registers a 32x32x3 dataset read from one of the CIFAR binary tarballs. */
export function registerCifarDataset(options: CifarDatasetOptions): void {
  const { name, archive, trainMembers, testMembers, labelBytes, labelOffset, numClasses } = options;
  registerDataset({
    name,
    imageShape: [SIDE, SIDE, 3],
    numClasses,
    description: options.description,
    source: `${archive.name} in <data-dir>/${archive.folder} (temper data fetch ${name}: ${archive.url}) or <system-dir>/${archive.folder}`,
    files: [archive],
    present: (context) => locateFiles(context, [archive]) !== undefined,
    location: (context) => locateFiles(context, [archive]),
    load: async (context): Promise<Dataset> => {
      const location = requireFiles(name, context, [archive]);
      const path = location.paths[0]!;
      const { members, digest } = await readTarGzMembers(path, [...trainMembers, ...testMembers]);
      warnIfDigestNotPublished(name, context, location, archive, path, digest);
      const pick = (names: string[]) => names.map((member): [string, Uint8Array] => [`${path}:${member}`, members.get(member)!]);
      return {
        name,
        imageShape: [SIDE, SIDE, 3],
        numClasses,
        normalization: options.normalization,
        train: cifarRecords(pick(trainMembers), labelBytes, labelOffset, numClasses),
        test: cifarRecords(pick(testMembers), labelBytes, labelOffset, numClasses),
      };
    },
  });
}
