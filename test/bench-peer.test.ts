import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot, tempDir, temperCli } from './helpers.js';
import type { Measurement } from '../src/bench/measure.js';
import { BENCH_MODEL_SPECS, BENCH_MODELS } from '../src/bench/models.js';
import { formatPeer, formatRatio, peerRatio, peerRow, pythonCandidates, TORCH_SCRIPT, type PeerReport, type TorchMeasurement } from '../src/bench/peer.js';

const QUICK_FLAGS = ['--batch', '4', '--warmup', '1', '--min-steps', '1', '--min-seconds', '0', '--rounds', '1'];
const DEBIAN_PYTHON = '/usr/bin/python3';
const torchHere = spawnSync(DEBIAN_PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

function temperStep(imagesPerSecond: number | null, extra: Partial<Measurement> = {}): Measurement {
  const batch = 32;
  const msPerStep = imagesPerSecond === null ? null : (batch * 1000) / imagesPerSecond;
  return {
    model: 'cnn-small',
    inputShape: [28, 28, 1],
    what: 'train',
    batch,
    warmupSteps: 2,
    steps: imagesPerSecond === null ? 0 : 3,
    stepMs: msPerStep === null ? [] : [msPerStep, msPerStep, msPerStep],
    msPerStep,
    imagesPerSecond,
    capped: false,
    memory: imagesPerSecond === null ? { before: null, after: null } : { before: { numTensors: 28, numBytes: 100 }, after: { numTensors: 28, numBytes: 100 } },
    error: imagesPerSecond === null ? 'out of memory' : null,
    profile: null,
    ...extra,
  };
}

function torchStep(imagesPerSecond: number | null, extra: Partial<TorchMeasurement> = {}): TorchMeasurement {
  const msPerStep = imagesPerSecond === null ? null : 32_000 / imagesPerSecond;
  return {
    model: 'cnn-small',
    what: 'train',
    batch: 32,
    warmupSteps: 2,
    steps: imagesPerSecond === null ? 0 : 3,
    stepMs: msPerStep === null ? [] : [msPerStep],
    msPerStep,
    imagesPerSecond,
    capped: false,
    error: imagesPerSecond === null ? 'RuntimeError: boom' : null,
    ...extra,
  };
}

/** A two-round report with one row that ran and one whose temper side failed in round 2. */
function fabricatedReport(): PeerReport {
  return {
    date: '2026-12-03T12:00:00.000Z',
    versions: { temper: '0.1.0', node: '20.20.2', 'tfjs-core': '4.22.0' },
    kernels: { project: true, env: null },
    host: { platform: 'linux', arch: 'x64', cpuModel: 'AMD EPYC', cpus: 2, loadAverage: [1, 1, 1] },
    settings: {
      backend: 'wasm', models: ['cnn-small', 'vgg6-bn'], kinds: ['train'], batch: 32, warmupSteps: null, minSteps: null,
      minSeconds: 2, maxSeconds: 60, seed: 0, profile: false, temperature: 10, eps: 8 / 255, stepSize: 2 / 255, optimizer: 'adam',
      peer: 'torch', rounds: 2, threads: 2,
    },
    temper: { provider: '@tensorflow/tfjs-backend-wasm', providerVersion: '4.22.0', device: 'simd on, 2 threads', projectKernels: [] },
    torch: { python: DEBIAN_PYTHON, script: TORCH_SCRIPT, version: '1.13.0', device: 'cpu, 2 threads (x86_64)', blas: null },
    rows: [
      peerRow('cnn-small', 'train', 32, [
        { temper: temperStep(500), torch: torchStep(1000) },
        { temper: temperStep(600), torch: torchStep(1000, { capped: true, steps: 1 }) },
      ]),
      peerRow('vgg6-bn', 'train', 32, [
        { temper: temperStep(40, { model: 'vgg6-bn' }), torch: torchStep(20, { model: 'vgg6-bn' }) },
        { temper: temperStep(null, { model: 'vgg6-bn' }), torch: torchStep(25, { model: 'vgg6-bn' }) },
      ]),
    ],
    complete: false,
  };
}

describe('temper bench --peer torch', () => {
  it('the ratio is temper images/s over PyTorch images/s, per round, and its range spans the rounds where both ran', () => {
    assert.equal(peerRatio({ imagesPerSecond: 300 }, { imagesPerSecond: 1200 }), 0.25);
    assert.equal(peerRatio({ imagesPerSecond: null }, { imagesPerSecond: 1200 }), null);
    assert.equal(peerRatio({ imagesPerSecond: 300 }, { imagesPerSecond: null }), null);
    const [ran, failed] = fabricatedReport().rows;
    assert.deepEqual(ran!.rounds.map((round) => round.ratio), [0.5, 0.6]);
    assert.deepEqual(ran!.ratioRange, { min: 0.5, max: 0.6 });
    assert.deepEqual(failed!.rounds.map((round) => round.ratio), [2, null]);
    assert.deepEqual(failed!.ratioRange, { min: 2, max: 2 });
    assert.equal(peerRow('cnn-small', 'pgd', 4, [{ temper: temperStep(null), torch: torchStep(10) }]).ratioRange, null);
    assert.equal(formatRatio(0.5), '0.50');
    assert.equal(formatRatio(1.234), '1.2');
    assert.equal(formatRatio(0.004123), '0.0041');
    assert.equal(formatRatio(12.34), '12.3');
  });

  it('the table has one row per model and step with each round side by side, and notes failures and capped steps', () => {
    const table = formatPeer(fabricatedReport());
    assert.match(table, /^temper 0\.1\.0 on wasm \(simd on, 2 threads; project kernels on\) vs PyTorch 1\.13\.0 on cpu, 2 threads/);
    assert.match(table, /2 rounds, .*same batch, 2 threads/);
    assert.match(table, /Compare ratios within a run/);
    assert.match(table, /^model\s+step\s+batch\s+temper images\/s\s+PyTorch images\/s\s+temper\/PyTorch\s+range$/m);
    assert.match(table, /^cnn-small\s+train\s+32\s+500 600\s+1000 1000\s+0\.50 0\.60\s+0\.50-0\.60$/m);
    assert.match(table, /^vgg6-bn\s+train\s+32\s+40\.0 failed\s+20\.0 25\.0\s+2\.0 -\s+2\.0$/m);
    assert.match(table, /^round 2, vgg6-bn train: temper failed: out of memory$/m);
    assert.match(table, /^round 2, cnn-small train: PyTorch stopped at --max-seconds after 1 timed step$/m);
  });

  it('the JSON keeps every measurement of both sides and survives a round trip', () => {
    const report = fabricatedReport();
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  });

  it('tries TEMPER_PYTHON alone when set, else python3 on the PATH and then Debian\'s /usr/bin/python3', () => {
    assert.deepEqual(pythonCandidates({ TEMPER_PYTHON: '/opt/py/bin/python' }), ['/opt/py/bin/python']);
    assert.deepEqual(pythonCandidates({}), ['python3', DEBIAN_PYTHON]);
    assert.deepEqual(pythonCandidates({ TEMPER_PYTHON: ' ' }), ['python3', DEBIAN_PYTHON]);
  });

  it('ships the PyTorch script with the package', () => {
    assert.ok(existsSync(TORCH_SCRIPT), TORCH_SCRIPT);
    const files = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { files: string[] }).files;
    assert.ok(files.includes(relative(repoRoot, TORCH_SCRIPT)), `package.json "files": ${files.join(', ')}`);
  });

  it('without the Python it is told to use, exits 2 with the install line and prints nothing on stdout', () => {
    const result = temperCli(['bench', '--peer', 'torch', ...QUICK_FLAGS], { TEMPER_PYTHON: join(tempDir(), 'no-such-python') });
    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^temper: --peer torch needs PyTorch, and \/.*no-such-python was not found\./);
    assert.match(result.stderr, /install Debian's python3-torch \(apt-get install python3-torch\)/);
  });

  it('with a Python that cannot import torch, exits 2 with its error and the install line, and prints nothing on stdout', () => {
    const python = join(tempDir(), 'python3');
    writeFileSync(python, `#!/bin/sh\necho 'Traceback (most recent call last):' >&2\necho "ModuleNotFoundError: No module named 'torch'" >&2\nexit 1\n`);
    chmodSync(python, 0o755);
    const result = temperCli(['bench', '--peer', 'torch', ...QUICK_FLAGS], { TEMPER_PYTHON: python });
    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /cannot import torch \(exit 1: ModuleNotFoundError: No module named 'torch'\)/);
    assert.match(result.stderr, /apt-get install python3-torch/);
  });

  it('is bad usage with a backend other than wasm, and --rounds is bad usage without --peer', () => {
    const cpu = temperCli(['bench', '--peer', 'torch', '--backend', 'cpu', ...QUICK_FLAGS]);
    assert.equal(cpu.status, 2, cpu.stderr);
    assert.equal(cpu.stdout, '');
    assert.match(cpu.stderr, /^temper: --peer torch compares temper's wasm backend with PyTorch on the same CPU: use --backend wasm .*not --backend cpu\n$/);
    const rounds = temperCli(['bench', '--backend', 'wasm', '--rounds', '2']);
    assert.equal(rounds.status, 2, rounds.stderr);
    assert.match(rounds.stderr, /--rounds counts rounds of --peer measurements/);
    assert.equal(temperCli(['bench', '--peer', 'torch', '--rounds', '0']).status, 2);
  });

  it('torch_reference.py builds resnet18 and vit-tiny with the weight counts of temper\'s models (countParams)', (t) => {
    if (!torchHere) return t.skip('python3-torch not installed');
    const result = spawnSync(DEBIAN_PYTHON, [TORCH_SCRIPT, '--count-params', '--model', ...BENCH_MODELS], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const torchCounts = JSON.parse(result.stdout) as Record<string, number>;
    const temperCounts = Object.fromEntries(
      BENCH_MODELS.map((name) => {
        const model = BENCH_MODEL_SPECS[name].build(0);
        const count = model.countParams();
        model.dispose();
        return [name, count];
      }),
    );
    assert.deepEqual(torchCounts, temperCounts);
    assert.equal(temperCounts['resnet18'], 11_183_562);
    assert.equal(temperCounts['vit-tiny'], 5_362_762);
  });

  it('measures temper and PyTorch in one command: positive images/s on both sides, the ratio their quotient', (t) => {
    if (!torchHere) return t.skip('python3-torch not installed');
    const result = temperCli(['bench', '--peer', 'torch', '--model', 'cnn-small', '--what', 'pgd', ...QUICK_FLAGS, '--json'], { TEMPER_PYTHON: DEBIAN_PYTHON, TEMPER_STOCK_KERNELS: '' });
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as PeerReport;
    assert.equal(report.complete, true);
    assert.equal(report.settings.peer, 'torch');
    assert.equal(report.settings.backend, 'wasm');
    assert.equal(report.settings.rounds, 1);
    assert.equal(report.torch.python, DEBIAN_PYTHON);
    // Same thread count on both sides.
    assert.match(report.temper.device, new RegExp(`, ${report.settings.threads} threads?$`));
    assert.match(report.torch.device ?? '', new RegExp(`^cpu, ${report.settings.threads} threads? `));
    assert.equal(report.rows.length, 1);
    const row = report.rows[0]!;
    assert.deepEqual([row.model, row.what, row.batch, row.rounds.length], ['cnn-small', 'pgd', 4, 1]);
    const { temper, torch, ratio } = row.rounds[0]!;
    for (const m of [temper, torch]) {
      assert.equal(m.error, null);
      assert.equal(m.batch, 4);
      assert.equal(m.warmupSteps, 1);
      assert.ok(m.steps >= 1);
      assert.ok(m.imagesPerSecond! > 0, `images/s ${m.imagesPerSecond}`);
    }
    assert.equal(ratio, temper.imagesPerSecond! / torch.imagesPerSecond!);
    assert.deepEqual(row.ratioRange, { min: ratio, max: ratio });
    assert.deepEqual(temper.memory.after, temper.memory.before);
  });
});
