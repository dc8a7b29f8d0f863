// Multithreaded tfjs-wasm in Node.js. tfjs ships the threaded SIMD build but turns it off in Node
// (tensorflow/tfjs#3830) because its Emscripten loader hands Web Workers `blob:` URLs that Node's
// worker_threads cannot open, and because the backend sizes its thread pool as logical cores / 2.
// This module works around both for the duration of the backend's initialisation only: the two scripts
// the loader would put in blobs are written to files, and the core count the loader reads is the
// thread count asked for. Everything it patches is restored before `tf.setBackend('wasm')` returns.
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BackendError } from './errors.js';

/** tfjs-wasm's C++ side caps its pool at 8 threads (it pre-creates 8 workers). */
export const MAX_WASM_THREADS = 8;

/** Variable that sets the thread count (1 = the single-threaded SIMD build, as stock tfjs uses in Node). */
export const WASM_THREADS_ENV = 'TEMPER_WASM_THREADS';

/** Threads to use: TEMPER_WASM_THREADS when set, else every core the process may use, at most 8. */
export function wasmThreadCount(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[WASM_THREADS_ENV];
  if (raw === undefined || raw.trim() === '') return Math.max(1, Math.min(MAX_WASM_THREADS, os.availableParallelism()));
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new BackendError(`${WASM_THREADS_ENV} must be a whole number of threads >= 1, found '${raw}'`);
  }
  return Math.min(MAX_WASM_THREADS, value);
}

/**
 * Threads for one of `jobs` processes running at once: TEMPER_WASM_THREADS when set (the user's word), else the
 * default for one process, else the cores shared out between the processes.
 */
export function wasmThreadsForJobs(jobs: number, env: NodeJS.ProcessEnv = process.env): number {
  if (jobs <= 1 || (env[WASM_THREADS_ENV] ?? '').trim() !== '') return wasmThreadCount(env);
  return threadsPerJob(jobs);
}

/** Threads each of `jobs` worker processes should use so that together they fill, and do not oversubscribe, the cores. */
export function threadsPerJob(jobs: number, cores = os.availableParallelism()): number {
  return Math.max(1, Math.floor(Math.min(MAX_WASM_THREADS * jobs, cores) / jobs));
}

/** Emscripten's threaded loader as published; pool workers evaluate this file instead of a blob of the same function. */
const THREADED_LOADER = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';
/** The pool workers' script, which tfjs puts in a blob. */
const THREADED_WORKER = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';

/** Writes `text` to a file named by its hash (once per content, atomically) and returns the path. */
function contentFile(dir: string, text: string): string {
  const path = join(dir, `${createHash('sha256').update(text).digest('hex').slice(0, 20)}.js`);
  if (!existsSync(path)) {
    const partial = `${path}.${process.pid}.tmp`;
    writeFileSync(partial, text);
    renameSync(partial, path);
  }
  return path;
}

/**
 * Runs `init` (which must call `tf.setBackend('wasm')`) with the threaded build enabled for `threads` threads.
 * Returns init's result; the patches are undone whatever happens. Throws before patching anything where the
 * threaded loader is not on disk (a single-file bundle of the CLI).
 */
export async function withWasmThreads<T>(threads: number, setThreadsCount: (n: number) => void, init: () => Promise<T>): Promise<T> {
  const require = createRequire(import.meta.url);
  const loader = require.resolve(THREADED_LOADER);
  const { wasmWorkerContents } = require(THREADED_WORKER) as { wasmWorkerContents: string };
  const dir = join(os.tmpdir(), `temper-wasm-threads-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true });
  // As tfjs does before making the blob (the source holds raw newlines inside string literals). The script would turn
  // the loader blob it is sent into a blob: URL as well; it reads the loader's file instead.
  const workerScript = contentFile(dir, wasmWorkerContents.replace(/\n/g, '\\n')
    .replace('URL.createObjectURL(e.data.urlOrBlob)', JSON.stringify(loader))
    .replace('URL.revokeObjectURL(objectUrl)', '0'));
  const originalCreateObjectURL = URL.createObjectURL;
  const originalCpus = os.cpus;
  // The only blob the main thread turns into a URL during initialisation is the workers' script.
  URL.createObjectURL = (blob: Blob): string => (blob.type === 'application/javascript' ? workerScript : originalCreateObjectURL(blob));
  // The backend asks for min(threads, logical cores / 2) threads (it assumes two hyperthreads per core).
  os.cpus = () => Array.from({ length: 2 * threads }, () => originalCpus()[0]!);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);
  try {
    return await init();
  } finally {
    URL.createObjectURL = originalCreateObjectURL;
    os.cpus = originalCpus;
  }
}

interface PThreadModule {
  PThread?: { runningWorkers?: Array<{ unref?: () => void }> };
}

/**
 * The pool's threads are Node workers that Emscripten keeps referenced, so a process would never exit on its own.
 * They only ever run while the main thread waits for them inside a kernel, so nothing is lost by unreferencing them.
 */
export function unrefWasmThreads(backend: unknown): void {
  const module = (backend as { wasm?: PThreadModule }).wasm;
  for (const worker of module?.PThread?.runningWorkers ?? []) worker.unref?.();
}

/** Threads of the active wasm backend's pool (1 for the single-threaded build). */
export function wasmThreadsInUse(): number {
  const backend = tf.findBackend('wasm') as unknown as { wasm?: { tfjs?: { getThreadsCount?: () => number } } } | undefined;
  return Math.max(1, backend?.wasm?.tfjs?.getThreadsCount?.() ?? 1);
}
