// Writes the first N test images (float32 in [0,1], NHWC 28x28x1, little-endian) and labels (int32) of temper's
// embedded 'mnist' dataset, exactly as evaluate.ts takes them: rangeTensors(dataset.test, shape, 0, N) -> unitFloats.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset } from '../../dist/src/data/index.js';
import { unitFloats } from '../../dist/src/data/types.js';

const N = Number(process.argv[2] ?? 1000);
const here = dirname(fileURLToPath(import.meta.url));
const dataset = await loadDataset('mnist', { dataDir: '/tmp' });
const [h, w, c] = dataset.imageShape;
const size = h * w * c;
const images = Float32Array.from(unitFloats(dataset.test.images.subarray(0, N * size)));
const labels = Int32Array.from(dataset.test.labels.subarray(0, N));
let min = Infinity, max = -Infinity;
for (const v of images) { if (v < min) min = v; if (v > max) max = v; }
writeFileSync(join(here, 'test_images_f32.bin'), Buffer.from(images.buffer));
writeFileSync(join(here, 'test_labels_i32.bin'), Buffer.from(labels.buffer));
const counts = Array(10).fill(0); for (const l of labels) counts[l]++;
console.log(JSON.stringify({ dataset: dataset.name, imageShape: dataset.imageShape, testCount: dataset.test.count, exported: N,
  pixelType: dataset.test.images.constructor.name, min, max, labelCounts: counts }));
