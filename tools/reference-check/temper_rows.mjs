// Reruns some of a temper run's attack rows with another job seed (other random starts, targets and squares), on the
// run's checkpoint and the first N test images, exactly as `temper run` evaluates them (evaluateModel with the job's
// other rows skipped: each row keeps the seeds it has in the full evaluation). reference_check.py uses it for
// --seeds, to put temper's seed spread next to the reference's. Needs the build: npm run build.
//
//   node tools/reference-check/temper_rows.mjs --record FILE --checkpoint DIR --seed S --label LABEL [--label ...]
//                                              [--samples N] [--data-dir DIR] [--backend wasm]
//
// Prints one JSON line: { seed, samples, rows: [{ label, robustAccuracy, seconds }] }.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const dist = (path) => pathToFileURL(join(repoRoot, 'dist', 'src', path)).href;

/** The rows `labels` of the run `record`, evaluated with job seed `seed` on the checkpoint. */
export async function temperRows({ record, checkpoint, seed, labels, samples, dataDir, backend = 'wasm', log = () => {} }) {
  const { initBackend } = await import(dist('backend/index.js'));
  const { loadDataset, defaultDataDir } = await import(dist('data/index.js'));
  const { loadModel } = await import(dist('models/index.js'));
  const { evaluateModel } = await import(dist('eval/evaluate.js'));
  await initBackend(backend);
  const job = { ...record.job, seed, eval: { ...record.job.eval, samples: samples ?? record.job.eval.samples } };
  const dataset = await loadDataset(job.dataset, { dataDir: dataDir ?? defaultDataDir(), log: () => {} });
  const model = await loadModel(checkpoint);
  try {
    const hooks = { onAttack: ({ label }) => log(`temper ${label} with job seed ${seed}...`) };
    const result = await evaluateModel(model, dataset, job, hooks, { onlyRows: new Set(labels), dataDir: dataDir ?? defaultDataDir() });
    const missing = labels.filter((label) => !result.attacks.some((row) => row.label === label));
    if (missing.length > 0) throw new Error(`the run has no attack row ${missing.map((l) => JSON.stringify(l)).join(', ')}`);
    const rows = result.attacks.map((row) => ({ label: row.label, robustAccuracy: row.robustAccuracy, seconds: row.wallSeconds }));
    return { seed, samples: result.samples, rows };
  } finally {
    model.dispose();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      record: { type: 'string' },
      checkpoint: { type: 'string' },
      seed: { type: 'string' },
      label: { type: 'string', multiple: true },
      samples: { type: 'string' },
      'data-dir': { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
    },
  });
  const seed = Number(values.seed);
  const samples = values.samples === undefined ? undefined : Number(values.samples);
  if (!values.record || !values.checkpoint || !values.label?.length || !Number.isInteger(seed) || seed < 0 || (samples !== undefined && !(Number.isInteger(samples) && samples > 0))) {
    process.stderr.write('temper_rows.mjs: expected --record FILE --checkpoint DIR --seed S (S >= 0) --label LABEL [--label ...] [--samples N >= 1]\n');
    process.exit(2);
  }
  let record;
  try {
    record = JSON.parse(readFileSync(values.record, 'utf8'));
  } catch (error) {
    process.stderr.write(`temper_rows.mjs: cannot read the run record --record ${values.record}: ${error.message}\n`);
    process.exit(2);
  }
  const result = await temperRows({
    record,
    checkpoint: values.checkpoint,
    seed,
    labels: values.label,
    samples,
    dataDir: values['data-dir'],
    backend: values.backend,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
