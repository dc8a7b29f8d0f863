// Where datasets are looked for (the data folder, then the system dataset folders) and what a load checks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tempDir, temperCli, writeConfigFile } from './helpers.js';
import { idx, writeIdxSet } from './idx-fixtures.js';
import { unlessInstalled } from './system.js';
import { datasetSpec, DEFAULT_SYSTEM_DATA_DIRS, loadDataset, MissingDataError, systemDataDirs, type DataContext } from '../src/data/index.js';
import { digestOfBytes, publishedMismatch } from '../src/data/checksum.js';
import type { RemoteFile } from '../src/data/types.js';

const context = (dataDir: string, systemDirs: string[], lines: string[] = []): DataContext => ({ dataDir, systemDataDirs: systemDirs, log: (line) => lines.push(line) });

/** A small, well-formed fashion-mnist copy (30 train, 10 test images) in `<dir>/fashion-mnist`. */
function fakeFashionMnist(dir: string, trainCount = 30): string {
  const folder = join(dir, 'fashion-mnist');
  writeIdxSet(folder, 'train', trainCount, true);
  writeIdxSet(folder, 't10k', 10, true);
  return folder;
}

describe('where datasets are looked for', () => {
  it('TEMPER_SYSTEM_DATA_DIRS is colon-separated, replaces the defaults, and empty turns the system lookup off', () => {
    assert.deepEqual(systemDataDirs({}), DEFAULT_SYSTEM_DATA_DIRS);
    assert.ok(DEFAULT_SYSTEM_DATA_DIRS.includes('/usr/share/datasets'));
    assert.deepEqual(systemDataDirs({ TEMPER_SYSTEM_DATA_DIRS: '/opt/a::/opt/b' }), ['/opt/a', '/opt/b']);
    assert.deepEqual(systemDataDirs({ TEMPER_SYSTEM_DATA_DIRS: '' }), []);
  });

  it('the data folder comes first, then each system folder in order; the first with every file wins', async () => {
    const dataDir = tempDir();
    const [first, second] = [tempDir(), tempDir()];
    // `first` has only the training files: incomplete, so skipped; `second` has them all.
    writeIdxSet(join(first, 'fashion-mnist'), 'train', 30, true);
    const folder = fakeFashionMnist(second, 20);
    const spec = datasetSpec('fashion-mnist');
    assert.deepEqual(spec.location?.(context(dataDir, [first, second])), {
      folder,
      kind: 'system',
      paths: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'].map((name) => join(folder, name)),
    });
    const lines: string[] = [];
    const data = await spec.load(context(dataDir, [first, second], lines));
    assert.equal(data.train.count, 20);
    assert.ok(lines.includes(`fashion-mnist: using ${folder} (system)`), lines.join('\n'));

    // A copy in the data folder wins over every system one.
    const own = fakeFashionMnist(dataDir, 12);
    assert.equal(spec.location?.(context(dataDir, [first, second]))?.kind, 'data');
    lines.length = 0;
    assert.equal((await spec.load(context(dataDir, [first, second], lines))).train.count, 12);
    assert.ok(lines.includes(`fashion-mnist: using ${own} (data folder)`), lines.join('\n'));
  });

  it('with the system lookup off, a dataset only in a system folder is missing', () => {
    const system = tempDir();
    fakeFashionMnist(system);
    assert.equal(datasetSpec('fashion-mnist').present(context(tempDir(), [system])), true);
    assert.equal(datasetSpec('fashion-mnist').present(context(tempDir(), [])), false);
  });

  it('the tarball datasets use the same lookup: cifar10 in a system folder is present there', () => {
    const system = tempDir();
    mkdirSync(join(system, 'cifar10'));
    writeFileSync(join(system, 'cifar10', 'cifar-10-binary.tar.gz'), 'x');
    assert.equal(datasetSpec('cifar10').location?.(context(tempDir(), [system]))?.folder, join(system, 'cifar10'));
  });

  it('a missing file names every folder searched, what an incomplete one lacks, the fetch command and the package', async () => {
    const dataDir = tempDir();
    const [empty, partial] = [tempDir(), tempDir()];
    writeIdxSet(join(partial, 'fashion-mnist'), 'train', 4, true);
    const error = await datasetSpec('fashion-mnist').load(context(dataDir, [empty, partial])).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof MissingDataError, String(error));
    for (const folder of [dataDir, empty, partial]) assert.ok(error.message.includes(join(folder, 'fashion-mnist')), error.message);
    assert.match(error.message, /lacks t10k-images-idx3-ubyte\.gz, t10k-labels-idx1-ubyte\.gz/);
    assert.ok(error.message.includes(`temper data fetch fashion-mnist --data-dir ${dataDir}`), error.message);
    assert.match(error.message, /apt-get install dataset-fashion-mnist/);
  });

  it('data list and run say which folder they read; an empty TEMPER_SYSTEM_DATA_DIRS hides the system copy', () => {
    const [dataDir, system] = [tempDir(), tempDir()];
    const folder = fakeFashionMnist(system);
    const listed = temperCli(['data', 'list', '--data-dir', dataDir], { TEMPER_SYSTEM_DATA_DIRS: system });
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^data folder: ${dataDir}, then system folders ${system}$`, 'm'));
    assert.match(listed.stdout, /^fashion-mnist\s+present/m);
    assert.ok(listed.stdout.includes(`using ${folder} (system)`), listed.stdout);
    const off = temperCli(['data', 'list', '--data-dir', dataDir], { TEMPER_SYSTEM_DATA_DIRS: '' });
    assert.match(off.stdout, /^fashion-mnist\s+missing/m);
    assert.match(off.stdout, /no system folders \(TEMPER_SYSTEM_DATA_DIRS is empty\)/);
  });

  it('data fetch of a dataset a system folder provides downloads nothing and says where it is', () => {
    const [dataDir, system] = [tempDir(), tempDir()];
    const folder = fakeFashionMnist(system);
    const fetched = temperCli(['data', 'fetch', 'fashion-mnist', '--data-dir', dataDir], { TEMPER_SYSTEM_DATA_DIRS: system });
    assert.equal(fetched.status, 0, fetched.stderr);
    assert.equal(fetched.stdout, `fashion-mnist: already installed in ${folder} (system), where every command reads it; nothing to fetch\n`);
    assert.ok(!existsSync(join(dataDir, 'fashion-mnist')), 'something was written to the data folder');
  });
});

describe('what a load checks', () => {
  const folderWith = (name: string, bytes: Uint8Array): { dataDir: string; system: string; path: string } => {
    const [dataDir, system] = [tempDir(), tempDir()];
    const folder = fakeFashionMnist(system);
    const path = join(folder, name);
    writeFileSync(path, bytes);
    return { dataDir, system, path };
  };

  it('a truncated gzip file in a system folder is an error naming it', async () => {
    const whole = gzipSync(idx(2051, [30, 28, 28], new Uint8Array(30 * 784)));
    const { dataDir, system, path } = folderWith('train-images-idx3-ubyte.gz', whole.subarray(0, whole.length - 100));
    await assert.rejects(datasetSpec('fashion-mnist').load(context(dataDir, [system])), (error: Error) => {
      assert.ok(error.message.startsWith(`${path}: not a readable gzip file`), error.message);
      assert.match(error.message, /truncated or damaged/);
      return true;
    });
  });

  it('a truncated unpacked file is an error naming it, with the sizes', async () => {
    const { dataDir, system, path } = folderWith('t10k-labels-idx1-ubyte', idx(2049, [10], new Uint8Array(6)));
    // The unpacked name is read where the .gz is absent.
    rmSync(`${path}.gz`);
    await assert.rejects(datasetSpec('fashion-mnist').load(context(dataDir, [system])), new RegExp(`${path}: header says 10 = 10 bytes of data, found 6`));
  });

  it('a file that is not IDX (wrong magic number) is an error naming it', async () => {
    const { dataDir, system, path } = folderWith('train-labels-idx1-ubyte.gz', gzipSync(Buffer.from('<html>not found</html>')));
    await assert.rejects(datasetSpec('fashion-mnist').load(context(dataDir, [system])), (error: Error) => {
      assert.ok(error.message.startsWith(`${path}: not an IDX label file: magic number is`), error.message);
      assert.match(error.message, /expected 2049/);
      return true;
    });
  });

  it('a well-formed copy that is not the published one loads, with a warning naming the file and what differs', async () => {
    const system = tempDir();
    const folder = fakeFashionMnist(system);
    const lines: string[] = [];
    const data = await datasetSpec('fashion-mnist').load(context(tempDir(), [system], lines));
    assert.equal(data.train.count, 30);
    const warnings = lines.filter((line) => line.startsWith('warning:'));
    assert.equal(warnings.length, 4, lines.join('\n'));
    const trainImages = warnings.find((line) => line.includes(join(folder, 'train-images-idx3-ubyte.gz')))!;
    assert.match(trainImages, /not the published train-images-idx3-ubyte\.gz .*its unpacked content is 23536 bytes, expected 47040016 and has SHA-256 [0-9a-f]{64}, expected c59f468a/);
    assert.match(trainImages, /temper data fetch fashion-mnist --data-dir .* puts the official files in the data folder, which is searched first/);
  });

  it('a copy is the published file when its bytes match, or its unpacked content does (gzipped again, or unpacked)', () => {
    const content = Buffer.from('the published content');
    const published = gzipSync(content, { level: 9 });
    const file: RemoteFile = {
      name: 'x.gz',
      folder: 'x',
      url: 'https://example.org/x.gz',
      ...{ bytes: published.length, sha256: digestOfBytes(published).sha256 },
      unpacked: { bytes: content.length, sha256: digestOfBytes(content).sha256 },
    };
    assert.equal(publishedMismatch(file, published, content), undefined);
    const again = gzipSync(content, { level: 1 });
    assert.notDeepEqual(again, published);
    assert.equal(publishedMismatch(file, again, content), undefined);
    assert.equal(publishedMismatch(file, content, content), undefined);
    const other = Buffer.from('another content');
    assert.match(publishedMismatch(file, gzipSync(other), other) ?? '', /^its unpacked content is 15 bytes, expected 21 and has SHA-256/);
    // Without a known unpacked content, only the bytes as distributed count.
    assert.match(publishedMismatch({ ...file, unpacked: undefined }, again, content) ?? '', /^it .*has SHA-256 [0-9a-f]{64}, expected/);
  });
});

// Debian's dataset-fashion-mnist: the real files, gzipped again by the package (other bytes, same content).
const SYSTEM_FASHION = '/usr/share/datasets/fashion-mnist';
const FASHION_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
const fashionInstalled = FASHION_FILES.every((name) => existsSync(join(SYSTEM_FASHION, name)));

describe('the real Fashion-MNIST of the system package', { skip: unlessInstalled(fashionInstalled, "Debian's Fashion-MNIST", 'apt-get install dataset-fashion-mnist') }, () => {
  it('loads from /usr/share/datasets as the published data: 60,000 + 10,000 images, no checksum warning', async () => {
    assert.ok(fashionInstalled, `${SYSTEM_FASHION} lacks some of ${FASHION_FILES.join(', ')}; apt-get install dataset-fashion-mnist`);
    const lines: string[] = [];
    const data = await loadDataset('fashion-mnist', context(tempDir(), ['/usr/share/datasets'], lines));
    assert.deepEqual(lines, [`fashion-mnist: using ${SYSTEM_FASHION} (system)`]);
    assert.equal(data.train.count, 60000);
    assert.equal(data.test.count, 10000);
    // Balanced classes, as published: 6,000 per class in train, 1,000 in test.
    assert.deepEqual(Array.from({ length: 10 }, (_, k) => data.test.labels.filter((label) => label === k).length), new Array(10).fill(1000));
  });

  it('temper run trains and attacks on it (600 images, 1 epoch, FGSM), says it used the system folder, and beats chance', () => {
    const out = join(tempDir(), 'out');
    const config = writeConfigFile({
      name: 'fashion-system',
      datasets: ['fashion-mnist'],
      architectures: ['mlp'],
      temperatures: [1],
      seeds: [0],
      data: { trainSamples: 600 },
      training: { epochs: 1, batchSize: 32 },
      attacks: [{ name: 'fgsm', eps: 0.1 }],
      eval: { samples: 200, batchSize: 100 },
    });
    const result = temperCli(['run', config, '--out', out, '--backend', 'wasm', '--data-dir', tempDir()], { TEMPER_SYSTEM_DATA_DIRS: '/usr/share/datasets' });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /^fashion-mnist: using \/usr\/share\/datasets\/fashion-mnist \(system\)$/m);
    assert.doesNotMatch(result.stderr, /warning:/);
    const [header, ...rows] = readFileSync(join(out, 'runs.csv'), 'utf8').trim().split('\n').map((line) => line.split(','));
    const column = (name: string) => header!.indexOf(name);
    const clean = rows.find((row) => row[column('attack')] === 'clean')!;
    assert.equal(clean[column('status')], 'ok');
    // Chance is 10%; an MLP on 600 real images for one epoch reaches about 70%.
    assert.ok(Number(clean[column('accuracy')]) > 0.5, `clean accuracy ${clean[column('accuracy')]}`);
    assert.equal(Number(clean[column('n')]), 200);
  });

  it('doctor lists the folder it reads Fashion-MNIST from', () => {
    const result = temperCli(['doctor'], { TEMPER_SYSTEM_DATA_DIRS: '/usr/share/datasets', TEMPER_DATA_DIR: tempDir() });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^datasets \(data folder: .*, then system folders \/usr\/share\/datasets\):$/m);
    assert.match(result.stdout, /^\s+ok\s+fashion-mnist\s+\/usr\/share\/datasets\/fashion-mnist \(system\)$/m);
  });
});
