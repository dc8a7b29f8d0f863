import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { smallConfig, tempDir, wasmBackend, DATA } from './helpers.js';
import { expandGrid } from '../src/config/grid.js';
import { loadDataset } from '../src/data/index.js';
import type { Dataset } from '../src/data/types.js';
import { createModel } from '../src/models/index.js';
import { trainModel } from '../src/train/train.js';
import { runJob, type JobOptions } from '../src/runner/job.js';
import { runSweep } from '../src/runner/sweep.js';
import { LineProgress } from '../src/runner/progress.js';
import type { Job, RunRecord } from '../src/types.js';

const FGSM = [{ name: 'fgsm', eps: 0.1 }];
const PGD_CW = [{ name: 'pgd', eps: 0.1, steps: 2, stepSize: 0.05, loss: 'cw' }];

const cnnJob = (attacks: unknown[], parts: Record<string, unknown> = {}): Job =>
  expandGrid(smallConfig({ architectures: ['cnn-small'], training: { epochs: 2, batchSize: 64, optimizer: { name: 'sgd', lr: 0.05 } }, attacks, ...parts }))[0]!;

/** The numbers of a record, without timings and dates. */
function numbers(record: RunRecord) {
  return { epochLosses: record.epochLosses, cleanAccuracy: record.cleanAccuracy, attacks: record.attacks.map(({ wallSeconds: _, ...rest }) => rest) };
}

describe('checkpoints', () => {
  let dataset: Dataset;
  before(async () => {
    await wasmBackend();
    dataset = await loadDataset('synthetic', DATA);
  });

  /** Runs the job, counting training steps and collecting the messages it reports. */
  async function run(job: Job, options: JobOptions) {
    let steps = 0;
    const messages: string[] = [];
    const record = await runJob(job, dataset, 'wasm', { onStep: () => steps++, onMessage: (text) => messages.push(text) }, options);
    return { record, steps, messages };
  }

  describe('a trained job', () => {
    const checkpointDir = tempDir();
    const job = cnnJob(FGSM);
    const path = join(checkpointDir, job.trainingId);
    let first: RunRecord;

    it('saves model.json, weights.bin and training.json under its training id, and nothing else', async () => {
      ({ record: first } = await run(job, { checkpointDir }));
      assert.equal(first.status, 'ok', first.failureReason);
      assert.deepEqual(first.checkpoint, { path, reused: false });
      assert.deepEqual(readdirSync(checkpointDir), [job.trainingId]);
      assert.deepEqual(readdirSync(path).sort(), ['model.json', 'training.json', 'weights.bin']);
      const summary = JSON.parse(readFileSync(join(path, 'training.json'), 'utf8'));
      assert.deepEqual(summary.epochLosses, first.epochLosses);
      assert.equal(summary.trainSeconds, first.timings.trainSeconds);
    });

    it('is reused by a rerun with other attacks: no training, the same clean accuracy and losses', async () => {
      const other = cnnJob(PGD_CW);
      assert.equal(other.trainingId, job.trainingId);
      assert.notEqual(other.runId, job.runId);
      const { record, steps, messages } = await run(other, { checkpointDir });
      assert.equal(steps, 0, 'no training step');
      assert.equal(record.status, 'ok', record.failureReason);
      assert.deepEqual(record.checkpoint, { path, reused: true });
      assert.equal(record.cleanAccuracy, first.cleanAccuracy);
      assert.deepEqual(record.epochLosses, first.epochLosses);
      assert.equal(record.timings.trainSeconds, first.timings.trainSeconds, 'the training run timings');
      assert.equal(record.attacks[0]!.label, 'pgd2-cw@0.1');
      assert.match(messages.join('\n'), /reusing the model trained at/);
    });

    it('gives back exactly the trained weights: the same attack results as the run that trained them', async () => {
      const { record, steps } = await run(job, { checkpointDir });
      assert.equal(steps, 0);
      assert.deepEqual(numbers(record), numbers(first));
    });

    it('is trained again and replaced with retrain (--force)', async () => {
      const before = JSON.parse(readFileSync(join(path, 'training.json'), 'utf8')).finishedAt;
      const { record, steps } = await run(job, { checkpointDir, retrain: true });
      assert.ok(steps > 0, 'trained');
      assert.deepEqual(record.checkpoint, { path, reused: false });
      assert.deepEqual(numbers(record), numbers(first));
      assert.notEqual(JSON.parse(readFileSync(join(path, 'training.json'), 'utf8')).finishedAt, before);
      assert.deepEqual(readdirSync(checkpointDir), [job.trainingId], 'the old checkpoint is gone, no leftovers');
    });

    it('with a truncated weights.bin: the problem is reported, the job trains again and saves a good one', async () => {
      const weights = join(path, 'weights.bin');
      truncateSync(weights, Math.floor(statSync(weights).size / 2));
      const { record, steps, messages } = await run(job, { checkpointDir });
      assert.equal(record.status, 'ok', record.failureReason);
      assert.ok(steps > 0, 'trained');
      assert.equal(record.checkpoint?.reused, false);
      assert.match(record.checkpoint?.problem ?? '', /^checkpoint .+ could not be loaded \(weights\.bin does not match its checksum .+\); training again$/);
      assert.match(messages.join('\n'), /could not be loaded/);
      assert.deepEqual(numbers(record), numbers(first));
      assert.equal((await run(job, { checkpointDir })).steps, 0, 'the rewritten checkpoint loads');
    });

    it('with an unreadable training.json: reported, trained again', async () => {
      writeFileSync(join(path, 'training.json'), '{"epochLosses": [');
      const { record, steps } = await run(job, { checkpointDir });
      assert.ok(steps > 0);
      assert.match(record.checkpoint?.problem ?? '', /training\.json/);
    });
  });

  it('a save killed midway leaves staging folders that are never loaded; the next save clears those of dead processes', async () => {
    const checkpointDir = tempDir();
    const job = cnnJob(FGSM);
    const staging = (writer: string) => {
      const path = join(checkpointDir, `.${job.trainingId}.${writer}.0123456789ab.tmp`);
      mkdirSync(path);
      writeFileSync(join(path, 'model.json'), '{}');
      return path;
    };
    const deadHere = staging(`${hostname()}.${spawnSync(process.execPath, ['-e', '']).pid}`);
    const aliveHere = staging(`${hostname()}.${process.pid}`);
    const otherHostRecent = staging('node-7.4242');
    const otherHostOld = staging('node-7.4243');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    utimesSync(otherHostOld, twoHoursAgo, twoHoursAgo);
    const { record, steps } = await run(job, { checkpointDir });
    assert.ok(steps > 0, 'trained: no staging folder was taken for a checkpoint');
    assert.deepEqual(record.checkpoint, { path: join(checkpointDir, job.trainingId), reused: false });
    assert.deepEqual([deadHere, aliveHere, otherHostRecent, otherHostOld].map(existsSync), [false, true, true, false]);
  });

  it('checkpoint: false, or no checkpoint folder, reads and writes nothing', async () => {
    const checkpointDir = tempDir();
    const off = cnnJob(FGSM, { training: { epochs: 1, batchSize: 64, checkpoint: false } });
    const { record } = await run(off, { checkpointDir });
    assert.equal(record.checkpoint, undefined);
    assert.deepEqual(readdirSync(checkpointDir), []);
    assert.equal((await run(cnnJob(FGSM), {})).record.checkpoint, undefined);
  });

  it('a diverged job saves no checkpoint', async () => {
    const checkpointDir = tempDir();
    const job = cnnJob(FGSM, { temperatures: [1e-45] });
    const { record } = await run(job, { checkpointDir });
    assert.equal(record.status, 'failed');
    assert.equal(record.checkpoint, undefined);
    assert.equal(existsSync(join(checkpointDir, job.trainingId)), false);
  });

  it('loading and failing to load leak no tensors', async () => {
    const checkpointDir = tempDir();
    const job = cnnJob(FGSM);
    await run(job, { checkpointDir });
    const before = tf.memory().numTensors;
    await run(job, { checkpointDir });
    assert.equal(tf.memory().numTensors, before, 'after a reuse');
    truncateSync(join(checkpointDir, job.trainingId, 'weights.bin'), 100);
    await run(job, { checkpointDir });
    assert.equal(tf.memory().numTensors, before, 'after a failed load');
  });

  it('a second `temper run` with a new attack evaluates the saved models without training; --force retrains', async () => {
    const outDir = tempDir();
    const config = (attacks: unknown[]) => smallConfig({ name: 'checkpoint-sweep', temperatures: [1, 10], training: { epochs: 1, batchSize: 64 }, attacks });
    const lines: string[] = [];
    const progress = new LineProgress((line) => lines.push(line));
    const first = await runSweep(config(FGSM), { outDir, backend: 'wasm', progress });
    assert.equal(first.ok, 2);
    assert.equal(readdirSync(join(outDir, 'checkpoints')).length, 2);
    const second = await runSweep(config(PGD_CW), { outDir, backend: 'wasm', progress });
    const reran = second.records.filter((record) => record.job.attacks[0]!.name === 'pgd');
    assert.deepEqual(reran.map((record) => record.checkpoint?.reused), [true, true]);
    assert.equal(lines.filter((line) => line.includes('reusing the model')).length, 2);
    const forced = await runSweep(config(PGD_CW), { outDir, backend: 'wasm', progress, force: true });
    assert.deepEqual(forced.records.map((record) => record.checkpoint?.reused), [false, false]);
  });

  it('nesterov and label smoothing change the training losses and keep them finite', async () => {
    const losses = async (optimizer: Record<string, unknown>, labelSmoothing = 0) => {
      const [job] = expandGrid(smallConfig({ training: { epochs: 2, batchSize: 64, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9, ...optimizer }, labelSmoothing } }));
      const model = createModel('mlp', { inputShape: dataset.imageShape, numClasses: dataset.numClasses, seed: 0 });
      const { epochLosses } = await trainModel(model, dataset, job!);
      model.dispose();
      assert.ok(epochLosses.every(Number.isFinite), `losses ${epochLosses.join(', ')}`);
      return epochLosses;
    };
    const plain = await losses({});
    const nesterov = await losses({ nesterov: true });
    const smoothed = await losses({}, 0.2);
    assert.notDeepEqual(nesterov, plain);
    assert.notDeepEqual(smoothed, plain);
    // CE against smoothed targets q is at least their entropy H(q): here q = (0.85, 0.05, 0.05, 0.05).
    const entropy = -(0.85 * Math.log(0.85) + 3 * 0.05 * Math.log(0.05));
    assert.ok(smoothed.every((loss) => loss >= entropy), `smoothed ${smoothed.join(', ')}, entropy ${entropy}`);
  });
});
