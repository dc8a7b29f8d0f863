// Backend selection: tfjs-node (GPU, then CPU build) where it installed, else wasm; cpu for tests.
import * as tf from '@tensorflow/tfjs';
import { registerProjectKernels } from './kernels/index.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendInfo {
  /** tfjs backend name actually in use: "tensorflow", "wasm" or "cpu". */
  name: string;
  /** Which package provided it, e.g. "@tensorflow/tfjs-node-gpu". */
  provider: string;
  /** Why this backend was chosen, in words (what was tried and failed first). */
  reason: string;
  /** Project kernels registered on top of the stock ones. */
  projectKernels: string[];
}

export class BackendError extends Error {}

/** Outcome of trying to load one backend, kept for `temper doctor`. */
export interface BackendProbe {
  backend: string;
  provider: string;
  ok: boolean;
  detail: string;
}

const TENSORFLOW_PROVIDERS = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let active: BackendInfo | undefined;

async function tryTensorflow(): Promise<BackendProbe> {
  const failures: string[] = [];
  for (const provider of TENSORFLOW_PROVIDERS) {
    try {
      // The tfjs-node packages register the "tensorflow" backend on import.
      await import(provider);
      if (await tf.setBackend('tensorflow')) return { backend: 'tensorflow', provider, ok: true, detail: 'loaded' };
      failures.push(`${provider}: imported but the backend did not initialise`);
    } catch (error) {
      failures.push(`${provider}: ${firstLine(error)}`);
    }
  }
  return { backend: 'tensorflow', provider: TENSORFLOW_PROVIDERS.join(' | '), ok: false, detail: failures.join('; ') };
}

async function tryWasm(): Promise<BackendProbe> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('setBackend("wasm") returned false');
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
    return { backend: 'wasm', provider: '@tensorflow/tfjs-backend-wasm', ok: true, detail: `simd ${simd ? 'on' : 'off'}, threads ${threads ? 'on' : 'off'}` };
  } catch (error) {
    return { backend: 'wasm', provider: '@tensorflow/tfjs-backend-wasm', ok: false, detail: firstLine(error) };
  }
}

async function tryCpu(): Promise<BackendProbe> {
  const ok = await tf.setBackend('cpu');
  return { backend: 'cpu', provider: '@tensorflow/tfjs-backend-cpu', ok, detail: ok ? 'pure JavaScript reference (slow)' : 'failed' };
}

const PROBES: Record<Exclude<BackendChoice, 'auto'>, () => Promise<BackendProbe>> = {
  tensorflow: tryTensorflow,
  wasm: tryWasm,
  cpu: tryCpu,
};

/** Selects and initialises a backend once per process; later calls return the same one. */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (active) {
    if (choice !== 'auto' && choice !== active.name) {
      throw new BackendError(`backend already initialised as "${active.name}"; cannot switch to "${choice}" in one process`);
    }
    return active;
  }
  let probe: BackendProbe;
  let reason: string;
  if (choice === 'auto') {
    const tried = await tryTensorflow();
    if (tried.ok) {
      probe = tried;
      reason = `auto: ${tried.provider} loaded`;
    } else {
      probe = await tryWasm();
      if (!probe.ok) throw new BackendError(`no backend loads: tensorflow (${tried.detail}); wasm (${probe.detail})`);
      reason = `auto: tensorflow unavailable (${tried.detail}), using wasm (${probe.detail})`;
    }
  } else {
    probe = await PROBES[choice]();
    if (!probe.ok) throw new BackendError(`backend "${choice}" does not load: ${probe.detail}`);
    reason = `requested with --backend ${choice} (${probe.detail})`;
  }
  await tf.ready();
  active = { name: tf.getBackend(), provider: probe.provider, reason, projectKernels: registerProjectKernels(tf.getBackend()) };
  return active;
}

/** Tries every backend without keeping any (for `temper doctor`); run it in a process of its own. */
export async function probeBackends(): Promise<BackendProbe[]> {
  const results: BackendProbe[] = [];
  for (const name of ['tensorflow', 'wasm', 'cpu'] as const) results.push(await PROBES[name]());
  return results;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.replace(/^Cannot find (package|module) '([^']+)'.*/, 'not installed');
}
