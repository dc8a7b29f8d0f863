// Shared test fixtures: a validated config built from parts, a wasm backend, a quickly trained model.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { configSchema, type ExperimentConfig } from '../src/config/schema.js';
import { initBackend } from '../src/backend/index.js';
import type { DataContext } from '../src/data/index.js';

/** Embedded and generated datasets ignore the folder; file-based ones read fixtures the tests write there (and no system copies). */
export const DATA: DataContext = { dataDir: join(tmpdir(), 'temper-test-data'), systemDataDirs: [] };

/** A small valid config on the synthetic dataset; `parts` replaces top-level keys. */
export function smallConfig(parts: Record<string, unknown> = {}): ExperimentConfig {
  return configSchema.parse({
    name: 'test',
    datasets: ['synthetic'],
    architectures: ['mlp'],
    temperatures: [1],
    seeds: [0],
    training: { epochs: 2, batchSize: 64 },
    attacks: [{ name: 'fgsm', eps: 0.1 }],
    eval: { samples: 128, batchSize: 64 },
    ...parts,
  });
}

export function tempDir(prefix = 'temper-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function wasmBackend() {
  return initBackend('wasm');
}

/** The repository root, two levels above the compiled test folder (dist/test). */
export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** Runs `node bin/temper.js ...args` to completion; `env` is added to this process's environment. */
export function temperCli(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(repoRoot, 'bin', 'temper.js'), ...args], { cwd: repoRoot, encoding: 'utf8', env: cliEnv(env) });
}

/**
 * This process's environment without cluster shard variables (tests may run inside a Slurm array), with no system
 * dataset folders (tests see only the data they write, not what the machine has installed), plus `extra`.
 */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', TEMPER_SYSTEM_DATA_DIRS: '' };
  for (const name of Object.keys(env)) if (name.startsWith('SLURM_ARRAY_') || name === 'JOB_COMPLETION_INDEX') delete env[name];
  return { ...env, ...extra };
}

/** Deterministic values in [-1, 1) (times scale, plus shift) from a 32-bit LCG (Numerical Recipes constants), the same on every backend. */
export function seededValues(size: number, seed: number, scale = 1, shift = 0): Float32Array {
  const values = new Float32Array(size);
  let state = seed >>> 0;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = (state / 2 ** 31 - 1) * scale + shift;
  }
  return values;
}

/**
 * Runs `source` as an ES module in a new Node process (from the repository root, with `env` added to this process's
 * environment), asserts that it exits 0, and returns the JSON its last line of output prints.
 */
export function runNodeScript<T>(source: string, env: Record<string, string> = {}, timeout = 120_000): T {
  const script = join(tempDir('temper-child-'), 'child.mjs');
  writeFileSync(script, source);
  const result = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout, env: { ...process.env, ...env }, cwd: repoRoot });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as T;
}

/** Writes `config` as JSON into a new temp folder and returns its path. */
export function writeConfigFile(config: Record<string, unknown>): string {
  const path = join(tempDir(), 'config.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

/** Paths under `dir` (recursively, relative to it) whose file name passes `keep`. */
export function filesUnder(dir: string, keep: (name: string) => boolean = () => true): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((path) => keep(basename(path))).sort();
}

/** A float array's bytes as hex: equal strings mean equal bits (NaN payloads and signed zeros included). */
export function bits(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

/** A compiled module of this repository (dist/<path>) as a file URL, for a child script's import(). */
export const distUrl = (path: string): string => pathToFileURL(join(repoRoot, 'dist', path)).href;

/** The @tensorflow/tfjs this repository resolves, as a file URL, for a child script's import(). */
export const TFJS_URL = pathToFileURL(createRequire(join(repoRoot, 'package.json')).resolve('@tensorflow/tfjs')).href;

/**
 * Lines of a child script, after its initBackend('wasm'), that wait up to 20 s for the backend's worker threads (they
 * start after it; until then every kernel runs on one thread) and leave the product's instance in `instance`
 * (undefined on another backend) and `parallelThreads` in scope.
 */
export const WAIT_FOR_WORKER_THREADS = `
const { gemmInstance, parallelThreads } = await import(${JSON.stringify(distUrl('src/backend/kernels/gemm.js'))});
const instance = tf.getBackend() === 'wasm' ? gemmInstance(tf.backend()) : undefined;
for (let waited = 0; instance?.pool && !instance.pool.ready && waited < 20000; waited += 50) await new Promise((r) => setTimeout(r, 50));
`;
