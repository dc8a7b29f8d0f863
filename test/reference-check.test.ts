// tools/reference-check loads temper checkpoints into PyTorch. PyTorch is a tool here, not a dependency: without it
// (apt-get install python3-torch) this file is skipped, under CI too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createModel } from '../src/models/index.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { SYNTHETIC_SHAPE } from '../src/data/synthetic.js';
import type { Normalization } from '../src/data/types.js';
import { repoRoot, tempDir, temperCli, wasmBackend, writeConfigFile } from './helpers.js';

const PYTHON = process.env['TEMPER_REFERENCE_PYTHON'] ?? '/usr/bin/python3';
const TOOL = join(repoRoot, 'tools', 'reference-check');
const torchMissing = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0;
const skip = torchMissing && `PyTorch is not importable by ${PYTHON} (apt-get install python3-torch, or set TEMPER_REFERENCE_PYTHON); skipped, also under CI`;

interface LogitCheck {
  checkpoint: string;
  agree: boolean;
  maxRelativeDifference: number;
  argmaxAgreement: number;
}

describe('reference check: a temper checkpoint in PyTorch', { skip }, () => {
  it('gives the clean logits temper gives, for mlp and cnn-small (with input normalisation), and notices when they differ', async () => {
    await wasmBackend();
    const { exportInputs } = (await import(pathToFileURL(join(TOOL, 'export_inputs.mjs')).href)) as {
      exportInputs(options: { checkpoint: string; dataset: string; samples: number; out: string }): Promise<{ samples: number }>;
    };
    const dir = tempDir('temper-reference-');
    const summary = { epochLosses: [1], trainSeconds: 1, trainImagesPerSecond: 1, finishedAt: '2025-01-01T00:00:00.000Z' };
    const pairs: string[] = [];
    const models: Array<[string, Normalization | undefined]> = [
      ['mlp', undefined],
      ['cnn-small', { mean: [0.45], std: [0.2] }],
    ];
    for (const [architecture, normalization] of models) {
      const model = createModel(architecture, { inputShape: SYNTHETIC_SHAPE, numClasses: 4, seed: 5, ...(normalization ? { normalization } : {}) });
      const checkpoint = join(dir, architecture);
      await saveCheckpoint(checkpoint, model, summary);
      model.dispose();
      const before = tf.memory().numTensors;
      const meta = await exportInputs({ checkpoint, dataset: 'synthetic', samples: 40, out: join(dir, `${architecture}-inputs`) });
      assert.equal(tf.memory().numTensors, before);
      assert.equal(meta.samples, 40);
      pairs.push('--checkpoint', checkpoint, '--inputs', join(dir, `${architecture}-inputs`));
    }
    // The negative control: cnn-small's logits with one of them changed by 1%.
    cpSync(join(dir, 'cnn-small-inputs'), join(dir, 'changed-inputs'), { recursive: true });
    const file = join(dir, 'changed-inputs', 'logits_f32.bin');
    const bytes = readFileSync(file);
    const logits = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    logits[7] = logits[7]! * 1.01 + 0.01;
    writeFileSync(file, Buffer.from(logits.buffer));
    pairs.push('--checkpoint', join(dir, 'cnn-small'), '--inputs', join(dir, 'changed-inputs'));

    const result = spawnSync(PYTHON, [join(TOOL, 'reference_check.py'), 'logits', ...pairs], { encoding: 'utf8' });
    assert.equal(result.status, 1, `exit 1 because the changed logits disagree\n${result.stderr}`);
    const checks = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as LogitCheck);
    assert.deepEqual(checks.map((c) => c.agree), [true, true, false]);
    for (const check of checks.slice(0, 2)) {
      assert.ok(check.maxRelativeDifference <= 1e-4, `${check.checkpoint}: ${check.maxRelativeDifference}`);
      assert.equal(check.argmaxAgreement, 1);
    }
  });
});

// temper_rows.mjs needs no PyTorch: it reruns a run's rows at another job seed for reference_check.py --seeds.
describe('reference check: temper_rows.mjs reruns a row of a run', () => {
  it("gives the run's own number at its job seed, and another seed's on request, leaving no tensors", async () => {
    await wasmBackend();
    const out = tempDir('temper-rows-');
    const config = writeConfigFile({
      name: 'rows',
      datasets: ['synthetic'],
      architectures: ['mlp'],
      temperatures: [1],
      seeds: [3],
      training: { epochs: 1, batchSize: 64, checkpoint: true },
      attacks: [{ name: 'fgsm', eps: 0.05 }, { name: 'apgd', eps: [0.03, 0.05], steps: 5, loss: 'dlr' }],
      corruptions: { types: ['gaussian_noise'], severities: [2] },
      eval: { samples: 100, batchSize: 40 },
    });
    const run = temperCli(['run', config, '--out', out]);
    assert.equal(run.status, 0, run.stderr);
    const recordFile = join(out, 'runs', readdirSync(join(out, 'runs')).find((name) => name.endsWith('.json'))!);
    const record = JSON.parse(readFileSync(recordFile, 'utf8')) as { job: { trainingId: string }; attacks: { label: string; robustAccuracy: number }[] };
    const row = record.attacks.find((r) => r.label === 'apgd5-dlr@0.05')!;
    const { temperRows } = (await import(pathToFileURL(join(TOOL, 'temper_rows.mjs')).href)) as {
      temperRows(options: Record<string, unknown>): Promise<{ seed: number; samples: number; rows: { label: string; robustAccuracy: number }[] }>;
    };
    const checkpoint = join(out, 'checkpoints', record.job.trainingId);
    const before = tf.memory().numTensors;
    const same = await temperRows({ record, checkpoint, seed: 3, labels: [row.label] });
    assert.deepEqual(same.rows.map((r) => [r.label, r.robustAccuracy]), [[row.label, row.robustAccuracy]], 'the job seed reproduces the run');
    assert.equal(same.samples, 100);
    const other = await temperRows({ record, checkpoint, seed: 4, labels: [row.label, 'fgsm-ce(T=1)@0.05'] });
    assert.deepEqual(other.rows.map((r) => r.label), ['fgsm-ce(T=1)@0.05', row.label], 'in the run\'s row order, no corruption rows');
    // FGSM draws nothing at random: another seed gives its number again.
    assert.equal(other.rows[0]!.robustAccuracy, record.attacks.find((r) => r.label === 'fgsm-ce(T=1)@0.05')!.robustAccuracy);
    assert.equal(tf.memory().numTensors, before);
    await assert.rejects(temperRows({ record, checkpoint, seed: 4, labels: ['pgd9@0.1'] }), /no attack row "pgd9@0.1"/);
  });
});
