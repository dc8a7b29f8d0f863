// The GPU-machine kit of scripts/gpu/: the esbuild bundle of the CLI runs on its own (no node_modules beside it),
// the summary computes webgpu/PyTorch ratios from the reports, and the PyTorch reference compiles. No GPU needed:
// the bundle is checked on the wasm backend, whose loading is what the bundling flags in prepare.sh are about.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from './helpers.js';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

describe('the GPU-machine kit (scripts/gpu)', () => {
  const folder = join(tempDir('temper-gpu-bundle-'), 'gpu');
  const main = join(folder, 'app', 'dist', 'src', 'cli', 'main.js');

  before(() => {
    const made = run('bash', [join(repoRoot, 'scripts', 'gpu', 'prepare.sh'), '--bundle-only', folder], repoRoot);
    assert.equal(made.status, 0, `prepare.sh --bundle-only failed:\n${made.stderr}\n${made.stdout}`);
  });

  it('prepare.sh bundles the CLI with its two child entries beside it, and the bundle prints the version', () => {
    for (const entry of ['main.js', 'child.js', 'adapter-probe.js', 'tfjs-backend-wasm-simd.wasm']) {
      assert.ok(existsSync(join(folder, 'app', 'dist', 'src', 'cli', entry)), `${entry} is in the bundle folder`);
    }
    // Run from an empty folder, so nothing resolves through the repository's node_modules.
    const shown = run(process.execPath, [main, '--version'], tempDir());
    assert.equal(shown.status, 0, shown.stderr);
    assert.equal(shown.stdout.trim(), version);
  });

  it('the bundle measures a wasm PGD step, profiles one more (--profile), and reports the bundled backend package and its version', () => {
    const args = ['bench', '--backend', 'wasm', '--model', 'cnn-small', '--what', 'pgd', '--batch', '1', '--warmup', '0', '--min-steps', '1', '--min-seconds', '0', '--profile', '--json', '--quiet'];
    const measured = run(process.execPath, [main, ...args], tempDir(), { TEMPER_WASM_THREADS: '1' });
    assert.equal(measured.status, 0, measured.stderr);
    type Profile = { timed: boolean; kernelCount: number; kernels: Array<{ name: string; calls: number }> };
    const report = JSON.parse(measured.stdout) as { complete: boolean; versions: Record<string, string>; backends: Array<{ provider: string; providerVersion: string | null; measurements: Array<{ msPerStep: number | null; profile: Profile | null }> }> };
    assert.equal(report.complete, true);
    assert.equal(report.versions['temper'], version);
    assert.equal(report.backends[0]!.provider, '@tensorflow/tfjs-backend-wasm');
    assert.match(report.backends[0]!.providerVersion ?? '', /^\d+\.\d+\.\d+/);
    assert.ok(report.backends[0]!.measurements[0]!.msPerStep! > 0);
    // The H200 run profiles webgpu through this bundle: tf.profile and the engine state it reads are the bundled tfjs's.
    const profile = report.backends[0]!.measurements[0]!.profile!;
    assert.equal(profile.timed, true);
    assert.equal(profile.kernels.reduce((sum, k) => sum + k.calls, 0), profile.kernelCount);
    assert.ok(profile.kernels.some((k) => k.name === 'Conv2DBackpropInput'), profile.kernels.map((k) => k.name).join(', '));
  });

  it('summary.mjs divides webgpu step times by strict-fp32 PyTorch ones and checks the 3x train target', () => {
    const dir = tempDir();
    const measurement = (model: string, what: string, msPerStep: number) => ({ model, what, batch: model === 'cnn-small' ? 512 : 128, msPerStep, steps: 20, capped: false, error: null, memory: { before: { numTensors: 5 }, after: { numTensors: 5 } } });
    const backend = { backend: 'webgpu', device: 'NVIDIA: 580.159.04 (vendor nvidia)', provider: '@tensorflow/tfjs-backend-webgpu on Dawn (webgpu)', providerVersion: '4.22.0', projectKernels: [], error: null };
    writeFileSync(join(dir, 'webgpu-cnn-small.json'), JSON.stringify({ versions: { temper: version }, backends: [{ ...backend, measurements: [measurement('cnn-small', 'train', 6), measurement('cnn-small', 'pgd', 3)] }] }));
    const profile = { wallMs: 60, kernelCount: 7, timed: true, kernelMs: 40, kernels: [
      { name: 'Sum', calls: 4, ms: 10, share: 0.25 }, { name: 'Conv2DBackpropFilter', calls: 3, ms: 30, share: 0.75 },
    ] };
    writeFileSync(join(dir, 'webgpu-vgg6-bn.json'), JSON.stringify({ versions: { temper: version }, backends: [{ ...backend, measurements: [{ ...measurement('vgg6-bn', 'train', 48), profile }] }] }));
    const torch = (variant: string, model: string, what: string, msPerStep: number) => ({ variant, model, what, batch: model === 'cnn-small' ? 512 : 128, msPerStep, steps: 30, capped: false, error: null });
    writeFileSync(join(dir, 'torch.json'), JSON.stringify({ device: 'NVIDIA H100 80GB HBM3', versions: { torch: '2.11.0', cuda: '13.0', cudnn: 91000 }, measurements: [torch('strict', 'cnn-small', 'train', 2), torch('strict', 'vgg6-bn', 'train', 4), torch('strict', 'cnn-small', 'pgd', 1.5), torch('defaults', 'cnn-small', 'train', 1.8)] }));
    // A step cut short by its timeout leaves only its progress line in the log.
    writeFileSync(join(dir, 'device-check.log'), 'bench webgpu: vgg6-bn pgd: 20.0 ms/step, 6400 images/s over 20 steps\n');
    const summarised = run(process.execPath, [join(repoRoot, 'scripts', 'gpu', 'summary.mjs'), dir], repoRoot);
    assert.equal(summarised.status, 0, summarised.stderr);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { rows: Array<{ model: string; what: string; ratio: number | null; verdict: string; webgpuMs: number | null; torchDefaultsMs: number | null }>; notes: string[] };
    const row = (model: string, what: string) => summary.rows.find((r) => r.model === model && r.what === what)!;
    assert.equal(row('cnn-small', 'train').ratio, 3);
    assert.equal(row('cnn-small', 'train').verdict, 'met');
    assert.equal(row('cnn-small', 'train').torchDefaultsMs, 1.8);
    assert.equal(row('vgg6-bn', 'train').ratio, 12);
    assert.equal(row('vgg6-bn', 'train').verdict, 'missed');
    assert.equal(row('cnn-small', 'pgd').ratio, 2);
    assert.equal(row('vgg6-bn', 'pgd').webgpuMs, 20);
    assert.equal(row('vgg6-bn', 'pgd').ratio, null, 'no PyTorch number for it');
    assert.ok(summary.notes.some((note) => /vgg6-bn pgd: from the progress line/.test(note)), summary.notes.join('\n'));
    assert.match(summarised.stdout, /cnn-small\s+train\s+512\s+6\.0\s+2\.00\s+3\.0x\s+<= 3x met/);
    // A profiled step: its largest kernels first, with GPU times.
    assert.match(summarised.stdout, /- vgg6-bn train: 7 kernels, 40\.0 ms in kernels of 60\.0 ms; Conv2DBackpropFilter 30\.0 \(75%\), Sum 10\.0 \(25%\)/);
  });

  it('torch_reference.py compiles (where python3 exists; it needs torch only to run)', (t) => {
    if (run('python3', ['--version'], repoRoot).status !== 0) return t.skip('no python3 here');
    const compiled = run('python3', ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])', join(repoRoot, 'scripts', 'gpu', 'torch_reference.py')], repoRoot);
    assert.equal(compiled.status, 0, compiled.stderr);
  });
});
