// Shared test fixtures: a validated config built from parts, a wasm backend, a quickly trained model.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type ExperimentConfig } from '../src/config/schema.js';
import { initBackend } from '../src/backend/index.js';

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
