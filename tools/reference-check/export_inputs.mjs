// Writes what the PyTorch side needs to check a temper checkpoint on the images temper evaluated it on: the first N
// test images of the dataset, exactly as evaluate.ts takes them (rangeTensors(dataset.test, shape, 0, N): float32
// in [0, 1], NHWC), their labels, and temper's own logits z for them (the checkpoint loaded by temper, forward pass
// with training: false). Needs the build: npm run build.
//
//   node tools/reference-check/export_inputs.mjs --checkpoint DIR --dataset mnist --samples 500 --out DIR [--data-dir DIR] [--record FILE]
//
// Writes into --out: images_f32.bin ([N, H, W, C] little-endian float32), labels_i32.bin, logits_f32.bin ([N, K]),
// meta.json ({ dataset, imageShape, numClasses, samples, backend }); with --record (a run record, runs/<runId>.json),
// also attacks.json: each of the run's attack rows as temper ran it, { label, eps, config, members } with the
// ensemble's members resolved (temper's default ensemble when the config names none).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const dist = (path) => pathToFileURL(join(repoRoot, 'dist', 'src', path)).href;

/** Exports images, labels and temper's logits for `samples` test images; returns the meta it wrote. */
export async function exportInputs({ checkpoint, dataset: name, samples, out, dataDir, backend = 'wasm' }) {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import(dist('backend/index.js'));
  const { loadDataset, defaultDataDir } = await import(dist('data/index.js'));
  const { loadModel } = await import(dist('models/index.js'));
  const { rangeTensors } = await import(dist('train/batches.js'));
  await initBackend(backend);

  const dataset = await loadDataset(name, { dataDir: dataDir ?? defaultDataDir(), log: () => {} });
  const count = Math.min(samples, dataset.test.count);
  const model = await loadModel(checkpoint);
  const [h, w, c] = dataset.imageShape;
  const images = new Float32Array(count * h * w * c);
  const labels = new Int32Array(count);
  const logits = new Float32Array(count * dataset.numClasses);
  const batch = 250;
  try {
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      const [pixels, truth, z] = tf.tidy(() => {
        const { images: x, labels: y } = rangeTensors(dataset.test, dataset.imageShape, start, n);
        return [x.dataSync(), y.dataSync(), model.apply(x, { training: false }).dataSync()];
      });
      images.set(pixels, start * h * w * c);
      labels.set(truth, start);
      logits.set(z, start * dataset.numClasses);
    }
  } finally {
    model.dispose();
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'images_f32.bin'), Buffer.from(images.buffer));
  writeFileSync(join(out, 'labels_i32.bin'), Buffer.from(labels.buffer));
  writeFileSync(join(out, 'logits_f32.bin'), Buffer.from(logits.buffer));
  const meta = { dataset: dataset.name, imageShape: dataset.imageShape, numClasses: dataset.numClasses, samples: count, backend: tf.getBackend() };
  writeFileSync(join(out, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  return meta;
}

/** The attack rows of a run record's job: label, eps, the attack's config without eps, and an ensemble's members. */
export async function attackRows(record) {
  const { attackLabels } = await import(dist('config/grid.js'));
  const { ensembleOf } = await import(dist('attacks/autoattack.js'));
  const attacks = record.job.attacks;
  const labels = attackLabels(attacks);
  return attacks.flatMap((attack, a) =>
    attack.eps.map((eps, e) => {
      const { eps: _, ...config } = attack;
      return { label: labels[a][e], eps, config, ...(attack.name === 'autoattack' ? { members: ensembleOf(config) } : {}) };
    }),
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      checkpoint: { type: 'string' },
      dataset: { type: 'string' },
      samples: { type: 'string' },
      out: { type: 'string' },
      'data-dir': { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
      record: { type: 'string' },
    },
  });
  const missing = ['checkpoint', 'dataset', 'samples', 'out'].filter((key) => values[key] === undefined);
  const samples = Number(values.samples);
  if (missing.length > 0 || !Number.isInteger(samples) || samples < 1) {
    process.stderr.write(`export_inputs.mjs: expected --checkpoint DIR --dataset NAME --samples N (N >= 1) --out DIR; missing or invalid: ${missing.join(', ') || '--samples'}\n`);
    process.exit(2);
  }
  const meta = await exportInputs({ checkpoint: values.checkpoint, dataset: values.dataset, samples, out: values.out, dataDir: values['data-dir'], backend: values.backend });
  if (values.record) {
    const rows = await attackRows(JSON.parse(readFileSync(values.record, 'utf8')));
    writeFileSync(join(values.out, 'attacks.json'), `${JSON.stringify(rows, null, 2)}\n`);
  }
  process.stdout.write(`${JSON.stringify(meta)}\n`);
}
