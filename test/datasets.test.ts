// The paper-scale datasets, read from fixture files written in their exact official formats.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import tarStream from 'tar-stream';
import yazl from 'yazl';
import { tempDir } from './helpers.js';
import { idx, writeIdxSet } from './idx-fixtures.js';
import { datasetSpec, MissingDataError, type DataContext, type Dataset } from '../src/data/index.js';

const quiet = (dataDir: string, lines: string[] = [], systemDataDirs: string[] = []): DataContext => ({ dataDir, systemDataDirs, log: (line) => lines.push(line) });
const load = (name: string, context: DataContext): Promise<Dataset> => datasetSpec(name).load(context);

// ---- IDX (MNIST layout) ----

// ---- CIFAR binary tarballs ----

/** One record: label bytes, then the R, G and B planes; pixel p of plane c of record r is (r + 3p + 50c) mod 256. */
function cifarRecord(r: number, labels: number[]): Buffer {
  const pixels = Buffer.alloc(3072);
  for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) pixels[c * 1024 + p] = (r + 3 * p + 50 * c) % 256;
  return Buffer.concat([Buffer.from(labels), pixels]);
}

async function writeTarGz(path: string, members: Array<[string, Buffer]>): Promise<void> {
  mkdirSync(join(path, '..'), { recursive: true });
  const pack = tarStream.pack();
  for (const [name, bytes] of members) pack.entry({ name, size: bytes.length }, bytes);
  pack.finalize();
  await pipeline(pack, createGzip(), createWriteStream(path));
}

// ---- Tiny-ImageNet zip ----

/**
 * A baseline JPEG with one (grayscale) component in which every pixel is `value`; jpeg-js only encodes
 * colour. Quantisation is all ones and each 8x8 block holds just its DC term, so two tiny Huffman
 * tables suffice: DC categories {0, c} as codes 0 and 10, AC end-of-block as code 0.
 */
function grayscaleJpeg(side: number, value: number): Buffer {
  const segment = (marker: number, body: number[]) => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];
  const diff = 8 * (value - 128);
  const category = Math.abs(diff).toString(2).length;
  const extra = diff >= 0 ? diff : diff + (1 << category) - 1;
  const bits = `10${extra.toString(2).padStart(category, '0')}0${'00'.repeat((side / 8) ** 2 - 1)}`;
  const padded = bits.padEnd(Math.ceil(bits.length / 8) * 8, '1');
  const entropy: number[] = [];
  for (let i = 0; i < padded.length; i += 8) {
    const byte = parseInt(padded.slice(i, i + 8), 2);
    entropy.push(byte);
    if (byte === 0xff) entropy.push(0x00);
  }
  const counts = (...lengths: number[]) => [...lengths, ...new Array(16 - lengths.length).fill(0)];
  return Buffer.from([
    0xff, 0xd8,
    ...segment(0xdb, [0x00, ...new Array(64).fill(1)]),
    ...segment(0xc0, [8, side >> 8, side & 0xff, side >> 8, side & 0xff, 1, 1, 0x11, 0]),
    ...segment(0xc4, [0x00, ...counts(1, 1), 0, category]),
    ...segment(0xc4, [0x10, ...counts(1), 0x00]),
    ...segment(0xda, [1, 1, 0x00, 0, 63, 0]),
    ...entropy,
    0xff, 0xd9,
  ]);
}

const CLASS_COLOURS: Array<[number, number, number]> = [[200, 40, 40], [40, 180, 60], [50, 60, 210]];
const WNIDS = ['n01443537', 'n01629819', 'n01641577'];
const GRAY = 90;

function colourJpeg([r, g, b]: [number, number, number]): Buffer {
  const data = Buffer.alloc(64 * 64 * 4);
  for (let p = 0; p < 64 * 64; p++) data.set([r, g, b, 255], 4 * p);
  return jpeg.encode({ width: 64, height: 64, data }, 100).data;
}

/** 3 classes x 4 train images (the last of class 2 grayscale), 5 val images, plus files the loader must skip. */
async function writeTinyImageNet(path: string): Promise<void> {
  mkdirSync(join(path, '..'), { recursive: true });
  const zip = new yazl.ZipFile();
  const root = 'tiny-imagenet-200/';
  zip.addBuffer(Buffer.from(`${WNIDS.join('\n')}\n`), `${root}wnids.txt`);
  zip.addBuffer(Buffer.from('n01443537\tgoldfish\n'), `${root}words.txt`);
  WNIDS.forEach((wnid, label) => {
    zip.addBuffer(Buffer.from(`${wnid}_0.JPEG\t0\t0\t63\t63\n`), `${root}train/${wnid}/${wnid}_boxes.txt`);
    for (let i = 0; i < 4; i++) {
      const image = label === 2 && i === 3 ? grayscaleJpeg(64, GRAY) : colourJpeg(CLASS_COLOURS[label]!);
      zip.addBuffer(image, `${root}train/${wnid}/images/${wnid}_${i}.JPEG`);
    }
  });
  const valClasses = [2, 0, 1, 1, 0];
  zip.addBuffer(Buffer.from(valClasses.map((label, i) => `val_${i}.JPEG\t${WNIDS[label]}\t0\t0\t63\t63\n`).join('')), `${root}val/val_annotations.txt`);
  valClasses.forEach((label, i) => zip.addBuffer(colourJpeg(CLASS_COLOURS[label]!), `${root}val/images/val_${i}.JPEG`));
  zip.addBuffer(colourJpeg([0, 0, 0]), `${root}test/images/test_0.JPEG`);
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(path));
}

const pixel = (data: Dataset, split: 'train' | 'test', index: number, y: number, x: number): number[] => {
  const [h, w, c] = data.imageShape;
  const start = ((index * h + y) * w + x) * c;
  return Array.from(data[split].images.subarray(start, start + c));
};

const classCounts = (labels: Int32Array, classes: number) => Array.from({ length: classes }, (_, k) => labels.filter((l) => l === k).length);

describe('paper-scale datasets', () => {
  it('mnist-full reads gzipped IDX files: 28x28x1 bytes, labels, pixels, normalisation', async () => {
    const dataDir = tempDir();
    writeIdxSet(join(dataDir, 'mnist-full'), 'train', 30, true);
    writeIdxSet(join(dataDir, 'mnist-full'), 't10k', 12, true);
    const context = quiet(dataDir);
    assert.equal(datasetSpec('mnist-full').present(context), true);
    const data = await load('mnist-full', context);
    assert.deepEqual(data.imageShape, [28, 28, 1]);
    assert.equal(data.numClasses, 10);
    assert.equal(data.train.count, 30);
    assert.equal(data.test.count, 12);
    assert.ok(data.train.images instanceof Uint8Array);
    assert.equal(data.train.images.length, 30 * 784);
    assert.deepEqual(Array.from(data.test.labels), Array.from({ length: 12 }, (_, i) => i % 10));
    assert.deepEqual(pixel(data, 'train', 5, 3, 4), [(7 * 5 + 3 * 28 + 4) % 256]);
    assert.deepEqual(data.normalization, { mean: [0.1307], std: [0.3081] });
  });

  it('fashion-mnist reads unpacked IDX files too', async () => {
    const dataDir = tempDir();
    writeIdxSet(join(dataDir, 'fashion-mnist'), 'train', 20, false);
    writeIdxSet(join(dataDir, 'fashion-mnist'), 't10k', 10, false);
    const data = await load('fashion-mnist', quiet(dataDir));
    assert.equal(data.train.count, 20);
    assert.deepEqual(classCounts(data.train.labels, 10), new Array(10).fill(2));
    assert.deepEqual(pixel(data, 'test', 9, 27, 27), [(7 * 9 + 783) % 256]);
    assert.equal(data.normalization?.mean.length, 1);
  });

  it('an IDX file with the wrong magic number or size is an error naming the file', async () => {
    const dataDir = tempDir();
    const folder = join(dataDir, 'mnist-full');
    writeIdxSet(folder, 'train', 4, true);
    writeIdxSet(folder, 't10k', 4, true);
    // Labels where images belong: magic 2049, not 2051.
    writeFileSync(join(folder, 'train-images-idx3-ubyte.gz'), gzipSync(idx(2049, [4], new Uint8Array(4))));
    await assert.rejects(load('mnist-full', quiet(dataDir)), /train-images-idx3-ubyte\.gz: not an IDX image file: magic number is 2049, expected 2051/);
    writeIdxSet(folder, 'train', 4, true, 14);
    await assert.rejects(load('mnist-full', quiet(dataDir)), /train-images-idx3-ubyte\.gz: images are 14x14, expected 28x28/);
    writeFileSync(join(folder, 'train-images-idx3-ubyte.gz'), gzipSync(idx(2051, [4, 28, 28], new Uint8Array(100))));
    await assert.rejects(load('mnist-full', quiet(dataDir)), /train-images-idx3-ubyte\.gz: header says 4x28x28 = 3136 bytes of data, found 100/);
  });

  it('a missing file names the file, the folder, the fetch command, and placing it by hand', async () => {
    const dataDir = tempDir();
    for (const [name, file] of [['mnist-full', 'train-images-idx3-ubyte.gz'], ['cifar10', 'cifar-10-binary.tar.gz'], ['cifar100-coarse', 'cifar-100-binary.tar.gz'], ['tiny-imagenet', 'tiny-imagenet-200.zip']] as const) {
      assert.equal(datasetSpec(name).present(quiet(dataDir)), false);
      const error = await load(name, quiet(dataDir)).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof MissingDataError, `${name}: ${String(error)}`);
      assert.ok(error.message.includes(file), error.message);
      assert.ok(error.message.includes(dataDir), error.message);
      assert.ok(error.message.includes(`temper data fetch ${name} --data-dir ${dataDir}`), error.message);
      assert.match(error.message, /by hand/);
    }
  });

  it('cifar10 streams the binary tarball: channel-planar records become NHWC, batches in order', async () => {
    const dataDir = tempDir();
    const batch = (first: number, n: number) => Buffer.concat(Array.from({ length: n }, (_, i) => cifarRecord(first + i, [(first + i) % 10])));
    await writeTarGz(join(dataDir, 'cifar10', 'cifar-10-binary.tar.gz'), [
      ['cifar-10-batches-bin/batches.meta.txt', Buffer.from('airplane\nautomobile\n')],
      ...[1, 2, 3, 4, 5].map((b): [string, Buffer] => [`cifar-10-batches-bin/data_batch_${b}.bin`, batch((b - 1) * 4, 4)]),
      ['cifar-10-batches-bin/test_batch.bin', batch(100, 3)],
    ]);
    const data = await load('cifar10', quiet(dataDir));
    assert.deepEqual(data.imageShape, [32, 32, 3]);
    assert.equal(data.train.count, 20);
    assert.equal(data.test.count, 3);
    assert.ok(data.train.images instanceof Uint8Array);
    assert.deepEqual(Array.from(data.train.labels), Array.from({ length: 20 }, (_, i) => i % 10));
    assert.deepEqual(Array.from(data.test.labels), [0, 1, 2]);
    // Record 13, row 5, column 7: planar index p = 5 * 32 + 7 in each of the R, G, B planes.
    const p = 5 * 32 + 7;
    assert.deepEqual(pixel(data, 'train', 13, 5, 7), [0, 1, 2].map((c) => (13 + 3 * p + 50 * c) % 256));
    assert.deepEqual(pixel(data, 'test', 2, 0, 0), [102, 152, 202]);
    assert.deepEqual(data.normalization, { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] });
  });

  it('cifar100 takes the fine label and cifar100-coarse the coarse one, from the same tarball', async () => {
    const dataDir = tempDir();
    const records = (first: number, n: number) => Buffer.concat(Array.from({ length: n }, (_, i) => cifarRecord(first + i, [(first + i) % 20, (7 * (first + i)) % 100])));
    await writeTarGz(join(dataDir, 'cifar100', 'cifar-100-binary.tar.gz'), [
      ['cifar-100-binary/train.bin', records(0, 40)],
      ['cifar-100-binary/test.bin', records(40, 6)],
    ]);
    const fine = await load('cifar100', quiet(dataDir));
    const coarse = await load('cifar100-coarse', quiet(dataDir));
    assert.equal(fine.numClasses, 100);
    assert.equal(coarse.numClasses, 20);
    assert.deepEqual(Array.from(fine.train.labels.subarray(0, 5)), [0, 7, 14, 21, 28]);
    assert.deepEqual(classCounts(coarse.train.labels, 20), new Array(20).fill(2));
    assert.deepEqual(Array.from(coarse.test.labels), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(fine.train.images, coarse.train.images);
    assert.deepEqual(pixel(fine, 'test', 1, 31, 31), [0, 1, 2].map((c) => (41 + 3 * 1023 + 50 * c) % 256));
    assert.equal(datasetSpec('cifar100-coarse').present(quiet(dataDir)), true);
  });

  it('a truncated CIFAR tarball is an error naming the file', async () => {
    const dataDir = tempDir();
    const path = join(dataDir, 'cifar10', 'cifar-10-binary.tar.gz');
    await writeTarGz(path, [1, 2, 3, 4, 5].map((b): [string, Buffer] => [`cifar-10-batches-bin/data_batch_${b}.bin`, cifarRecord(b, [b])]));
    writeFileSync(path, readFileSync(path).subarray(0, 200));
    await assert.rejects(load('cifar10', quiet(dataDir)), (error: Error) => error.message.includes(path) && /truncated|no cifar-10-batches-bin/.test(error.message));
  });

  it('tiny-imagenet decodes the zip: 64x64x3 bytes, wnids.txt labels, grayscale as 3 channels, val as test', async () => {
    const dataDir = tempDir();
    await writeTinyImageNet(join(dataDir, 'tiny-imagenet', 'tiny-imagenet-200.zip'));
    const lines: string[] = [];
    const data = await load('tiny-imagenet', quiet(dataDir, lines));
    assert.deepEqual(data.imageShape, [64, 64, 3]);
    assert.equal(data.numClasses, 3);
    assert.equal(data.train.count, 12);
    assert.equal(data.test.count, 5);
    assert.ok(data.train.images instanceof Uint8Array);
    assert.deepEqual(classCounts(data.train.labels, 3), [4, 4, 4]);
    assert.deepEqual(Array.from(data.test.labels), [2, 0, 1, 1, 0]);
    for (let i = 0; i < data.test.count; i++) {
      const colour = CLASS_COLOURS[data.test.labels[i]!]!;
      pixel(data, 'test', i, 40, 21).forEach((value, c) => assert.ok(Math.abs(value - colour[c]!) <= 4, `val_${i} channel ${c}: ${value} vs ${colour[c]}`));
    }
    const grays = Array.from({ length: data.train.count }, (_, i) => i).filter((i) => new Set(pixel(data, 'train', i, 10, 10)).size === 1);
    assert.equal(grays.length, 1, 'exactly one grayscale image');
    assert.equal(data.train.labels[grays[0]!], 2);
    const [r, g, b] = pixel(data, 'train', grays[0]!, 63, 63);
    assert.ok(r === g && g === b && Math.abs(r! - GRAY) <= 1, `grayscale pixel ${[r, g, b]}`);
    assert.equal(data.normalization?.mean.length, 3);
    assert.ok(lines.some((line) => /decoding 17 JPEGs/.test(line)), lines.join('\n'));
  });

  it('tiny-imagenet caches the decoded arrays beside the zip and reads them back instead of decoding', async () => {
    const dataDir = tempDir();
    await writeTinyImageNet(join(dataDir, 'tiny-imagenet', 'tiny-imagenet-200.zip'));
    const first = await load('tiny-imagenet', quiet(dataDir));
    const folder = join(dataDir, 'tiny-imagenet');
    const bin = readdirSync(folder).find((name) => /^decoded-[0-9a-f]+\.bin$/.test(name));
    assert.ok(bin, readdirSync(folder).join(', '));
    assert.ok(existsSync(join(folder, bin.replace(/\.bin$/, '.json'))));
    // Mark the cache: a second load that returns the mark read the cache rather than the JPEGs.
    const cached = readFileSync(join(folder, bin));
    assert.deepEqual(new Uint8Array(cached.subarray(0, first.train.images.length)), first.train.images);
    cached[0] = 255 - cached[0]!;
    writeFileSync(join(folder, bin), cached);
    const lines: string[] = [];
    const second = await load('tiny-imagenet', quiet(dataDir, lines));
    assert.equal(second.train.images[0], cached[0]);
    assert.deepEqual(second.train.labels, first.train.labels);
    assert.deepEqual(second.test.images, first.test.images);
    assert.ok(lines.some((line) => line.includes('using the decoded cache')), lines.join('\n'));
    assert.ok(!lines.some((line) => line.includes('decoding')), lines.join('\n'));
  });
});
