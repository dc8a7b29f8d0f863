// Tiny-ImageNet (cs231n, Stanford): 200 ImageNet classes at 64x64, read from the official zip.
// Labels are line numbers of wnids.txt; train/<wnid>/images/*.JPEG trains (500 per class) and the
// labelled validation set (val/val_annotations.txt, val/images/*.JPEG) tests, as papers report it.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import yauzl from 'yauzl';
import { allocateDecoded, decodedDataset, readDecodedCache, writeDecodedCache, type DecodedArrays } from './decoded-cache.js';
import { digestOfFile, warnIfDigestNotPublished } from './checksum.js';
import { locateFiles, logger, requireFiles } from './files.js';
import { registerDataset } from './registry.js';
import type { DataContext, Dataset, RemoteFile } from './types.js';
import { hashOf } from '../util/hash.js';
import { permutation, rng } from '../util/rng.js';

const NAME = 'tiny-imagenet';
const SIDE = 64;
const IMAGE_BYTES = SIDE * SIDE * 3;
const PROGRESS_SECONDS = 5;

const ARCHIVE: RemoteFile = {
  name: 'tiny-imagenet-200.zip',
  folder: NAME,
  url: 'http://cs231n.stanford.edu/tiny-imagenet-200.zip',
  // No published SHA-256 was found, so the download checks size and MD5 and reports its SHA-256 as
  // unverified. MD5 from ContinualAI/avalanche avalanche/benchmarks/datasets/tiny_imagenet/tiny_imagenet.py
  // (the value torchvision-style loaders share); the size is the one download logs of the file record.
  bytes: 248100043,
  md5: '90528d7ca1a48142e341f4ef8d21d0de',
};

interface Item {
  entry: yauzl.Entry;
  label: number;
  /** Where the decoded image goes in its split. */
  slot: number;
  split: 'train' | 'test';
}

const byNaturalName = new Intl.Collator('en', { numeric: true }).compare;

async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** 64x64 RGB bytes of one JPEG into `out`; jpeg-js repeats the channel of grayscale JPEGs (Tiny-ImageNet has some). */
function decodeInto(bytes: Uint8Array, out: Uint8Array, where: string): void {
  let image: { width: number; height: number; data: Uint8Array };
  try {
    image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  } catch (error) {
    throw new Error(`${where}: not a readable JPEG (${(error as Error).message})`);
  }
  if (image.width !== SIDE || image.height !== SIDE) throw new Error(`${where}: ${image.width}x${image.height} pixels, expected ${SIDE}x${SIDE}`);
  out.set(image.data);
}

/** Lists the zip's train and val images with their labels, in a fixed order. */
async function listItems(zip: yauzl.ZipFile, zipPath: string): Promise<{ items: Item[]; numClasses: number; trainCount: number; testCount: number }> {
  const entries = new Map<string, yauzl.Entry>();
  for await (const entry of zip.eachEntry()) if (!entry.fileName.endsWith('/')) entries.set(entry.fileName, entry);
  // The official zip keeps everything under tiny-imagenet-200/; accept a zip rooted anywhere.
  const wnidsName = [...entries.keys()].filter((name) => name === 'wnids.txt' || name.endsWith('/wnids.txt')).sort((a, b) => a.length - b.length)[0];
  if (!wnidsName) throw new Error(`${zipPath}: no wnids.txt; expected the official tiny-imagenet-200.zip layout`);
  const root = wnidsName.slice(0, -'wnids.txt'.length);
  const wnids = (await readEntry(zip, entries.get(wnidsName)!)).toString('utf8').split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
  const labelOf = new Map(wnids.map((wnid, index) => [wnid, index]));

  const train: Array<{ entry: yauzl.Entry; label: number }> = [];
  const trainPattern = new RegExp(`^${escapeRegExp(root)}train/([^/]+)/images/[^/]+\\.jpe?g$`, 'i');
  for (const [name, entry] of entries) {
    const match = trainPattern.exec(name);
    if (!match) continue;
    const label = labelOf.get(match[1]!);
    if (label === undefined) throw new Error(`${zipPath}: ${name} is in class ${match[1]}, which wnids.txt does not list`);
    train.push({ entry, label });
  }
  train.sort((a, b) => a.label - b.label || byNaturalName(a.entry.fileName, b.entry.fileName));

  const annotationsName = `${root}val/val_annotations.txt`;
  const annotations = entries.get(annotationsName);
  if (!annotations) throw new Error(`${zipPath}: no ${annotationsName}; expected the official tiny-imagenet-200.zip layout`);
  const test = (await readEntry(zip, annotations)).toString('utf8').split(/\r?\n/).filter((line) => line.trim()).map((line) => {
    const [file, wnid] = line.split('\t');
    const entry = entries.get(`${root}val/images/${file}`);
    if (!entry) throw new Error(`${zipPath}: ${annotationsName} lists ${file}, which is not in ${root}val/images/`);
    const label = labelOf.get(wnid ?? '');
    if (label === undefined) throw new Error(`${zipPath}: ${annotationsName} gives ${file} the class ${wnid}, which wnids.txt does not list`);
    return { entry, label };
  });
  test.sort((a, b) => byNaturalName(a.entry.fileName, b.entry.fileName));

  if (train.length === 0 || test.length === 0) throw new Error(`${zipPath}: found ${train.length} train and ${test.length} val images; expected the official layout`);
  // A fixed shuffle of the class-sorted train images, so "the first N" (data.trainSamples) covers every class.
  const order = permutation(train.length, rng(NAME, 'train'));
  const items: Item[] = [];
  order.forEach((from, slot) => items.push({ ...train[from]!, slot, split: 'train' }));
  test.forEach((item, slot) => items.push({ ...item, slot, split: 'test' }));
  return { items, numClasses: wnids.length, trainCount: train.length, testCount: test.length };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function decodeZip(zipPath: string, log: (line: string) => void): Promise<DecodedArrays> {
  const zip = await yauzl.openPromise(zipPath, { autoClose: false });
  try {
    const { items, numClasses, trainCount, testCount } = await listItems(zip, zipPath);
    const arrays = allocateDecoded({ imageShape: [SIDE, SIDE, 3], numClasses, trainCount, testCount });
    log(`${NAME}: decoding ${items.length.toLocaleString('en')} JPEGs from ${zipPath} (once; the result is cached)`);
    // Reading in archive order keeps the disk reads sequential.
    items.sort((a, b) => a.entry.relativeOffsetOfLocalHeader - b.entry.relativeOffsetOfLocalHeader);
    const started = Date.now();
    let lastReport = started;
    for (let i = 0; i < items.length; i++) {
      const { entry, label, slot, split } = items[i]!;
      const images = split === 'train' ? arrays.trainImages : arrays.testImages;
      decodeInto(await readEntry(zip, entry), images.subarray(slot * IMAGE_BYTES, (slot + 1) * IMAGE_BYTES), `${zipPath}:${entry.fileName}`);
      (split === 'train' ? arrays.trainLabels : arrays.testLabels)[slot] = label;
      if (Date.now() - lastReport >= PROGRESS_SECONDS * 1000) {
        lastReport = Date.now();
        log(`${NAME}: decoded ${(i + 1).toLocaleString('en')} / ${items.length.toLocaleString('en')} JPEGs (${Math.floor((100 * (i + 1)) / items.length)}%)`);
      }
    }
    log(`${NAME}: decoded ${items.length.toLocaleString('en')} JPEGs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return arrays;
  } finally {
    zip.close();
  }
}

async function loadTinyImageNet(context: DataContext): Promise<Dataset> {
  const location = requireFiles(NAME, context, [ARCHIVE]);
  const zipPath = location.paths[0]!;
  const log = logger(context);
  // The cache lives in the data folder even when the zip is in a (read-only) system folder.
  const folder = join(context.dataDir, ARCHIVE.folder);
  const { size, mtimeMs } = statSync(zipPath);
  // A replaced zip (other size, time or place) gets a new cache instead of stale pixels.
  const source = { zip: ARCHIVE.name, bytes: size, mtimeMs, ...(location.kind === 'system' ? { path: zipPath } : {}) };
  const key = hashOf(source);
  const binPath = join(folder, `decoded-${key}.bin`);
  const metaPath = join(folder, `decoded-${key}.json`);
  let arrays = readDecodedCache(binPath, metaPath);
  if (arrays) {
    log(`${NAME}: using the decoded cache ${binPath}`);
  } else {
    // Checked once, before the decode the cache then saves (no SHA-256 is published: size and MD5).
    warnIfDigestNotPublished(NAME, context, location, ARCHIVE, zipPath, await digestOfFile(zipPath));
    arrays = await decodeZip(zipPath, log);
    writeDecodedCache(binPath, metaPath, arrays, source);
    // Caches of an earlier zip are about 1.3 GB each; keep only the current one.
    for (const name of readdirSync(folder)) {
      if (/^decoded-[0-9a-f]+\.(bin|json)$/.test(name) && !name.startsWith(`decoded-${key}.`)) rmSync(join(folder, name), { force: true });
    }
  }
  // Per-channel mean and std of the 100,000 training images, the values in common use for Tiny-ImageNet.
  return decodedDataset(NAME, arrays, { mean: [0.4802, 0.4481, 0.3975], std: [0.277, 0.2691, 0.2821] });
}

registerDataset({
  name: NAME,
  imageShape: [SIDE, SIDE, 3],
  numClasses: 200,
  description: 'Tiny-ImageNet (64x64x3, 200 classes): 100,000 train / 10,000 labelled val images as the test split',
  source: `${ARCHIVE.name} in <data-dir>/${NAME} (temper data fetch ${NAME}: ${ARCHIVE.url}) or <system-dir>/${NAME}; decoded once into a cache in <data-dir>/${NAME}`,
  files: [ARCHIVE],
  present: (context) => locateFiles(context, [ARCHIVE]) !== undefined,
  location: (context) => locateFiles(context, [ARCHIVE]),
  load: loadTinyImageNet,
});
