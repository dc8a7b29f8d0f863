// The project's matrix product on tfjs-wasm's heap (scripts/gemm-wat.mjs): C = A B or C += A B for float32 matrices
// given by an offset and two strides each, so transposed operands cost nothing. It runs with a fused multiply-add
// (f32x4.relaxed_madd) where the engine has relaxed SIMD, and on as many threads as tfjs-wasm's own pool: worker
// threads that instantiate the same module on the same shared memory and split C's rows with this thread. Every
// element of C is summed in one fixed order whatever the split, so the bits do not depend on the thread count.
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import type * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { BackendError } from '../errors.js';
import { wasmThreadsInUse } from '../wasm-threads.js';
import { GEMM_FMA_PLAIN_MEMORY, GEMM_FMA_SHARED_MEMORY, GEMM_PLAIN_MEMORY, GEMM_SHARED_MEMORY } from './simd/binary.js';
import { backendMemory, heapOffset, isShared, simdKernels, simdModule } from './simd/index.js';
import { convDirectJob, filterGradDirectJob, filterGradTapsJob, inputGradK3Job, gemmBatchJob, GEMM_BATCH_ARGS, winogradFilterGradFusedJob, winogradFusedJob, type FusedJobKernels } from './fused-jobs.js';

/** Rows of C per micro-kernel call and depth of a k-block (scripts/gemm-wat.mjs's GEMM_MR and GEMM_KC). */
export const GEMM_MR = 4;
const GEMM_SCRATCH_BYTES = 32 * GEMM_MR;
/** Below this many multiply-adds a product runs on this thread alone (waking a worker costs tens of microseconds). */
export const GEMM_THREADED_MIN_MACS = 1 << 20;

/** The values TEMPER_GEMM and TEMPER_FMA take (unset or empty: the default). */
const GEMM_ENV_VALUES: Record<string, string[]> = { TEMPER_GEMM: ['0', '1'], TEMPER_FMA: ['0', '1'] };

/** Throws, naming the variable, on a value of TEMPER_GEMM or TEMPER_FMA that means nothing. */
export function checkGemmEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, values] of Object.entries(GEMM_ENV_VALUES)) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '' || values.includes(raw.trim())) continue;
    throw new BackendError(`${name} must be one of ${values.join(', ')} (or unset), found '${raw}'`);
  }
}

interface GemmExports {
  gemm(
    a: number, rsA: number, csA: number, bp: number, bPanel: number, bRow: number, c: number, ldc: number, n: number, k: number,
    row0: number, row1: number, add: number, scratch: number,
  ): void;
  pack_b(b: number, rsB: number, csB: number, k: number, n: number, out: number): void;
  conv_direct(...args: number[]): void;
  input_grad_k3(...args: number[]): void;
  filter_grad_direct(...args: number[]): void;
}

/** (module (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd)). */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2,
  253, 133, 2, 11,
]);

let relaxedSimd: boolean | undefined;
/**
 * Whether this engine compiles relaxed SIMD, turning on Node 20's --experimental-wasm-relaxed-simd if need be (Node 22
 * and later have it on). The flag changes only what validates; modules compiled before it are unaffected.
 */
export function relaxedSimdAvailable(): boolean {
  if (relaxedSimd === undefined) {
    relaxedSimd = WebAssembly.validate(RELAXED_PROBE);
    if (!relaxedSimd) {
      try {
        v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
        relaxedSimd = WebAssembly.validate(RELAXED_PROBE);
      } catch {
        relaxedSimd = false;
      }
    }
  }
  return relaxedSimd;
}

/** Whether the product uses fused multiply-adds: TEMPER_FMA=0 never, else where the engine has relaxed SIMD. */
export function gemmUsesFma(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['TEMPER_FMA']?.trim() === '0') return false;
  const available = relaxedSimdAvailable();
  if (!available && env['TEMPER_FMA']?.trim() === '1') {
    throw new BackendError('TEMPER_FMA=1 asks for fused multiply-adds, but this engine has no relaxed SIMD (Node 20 and later have it)');
  }
  return available;
}

/**
 * What a worker thread can run: the product (pack_b then gemm on one share) or one of the SIMD kernels' exports that
 * the Winograd convolutions split by images. A job is a name and its arguments, all of them int32.
 */
export const PARALLEL_FUNCTIONS = [
  'gemm', 'winograd_input', 'winograd4_input', 'winograd_output', 'winograd4_output', 'relu_grad', 'batch_norm', 'im2col',
  'bias_activation', 'dy_to_planes', 'winograd_dy_planes', 'winograd4_dy_planes', 'winograd_fused',
  'winograd_filter_grad_fused', 'filter_grad_taps_fused', 'input_grad_few_channels',
  'binary_f32', 'gemm_batch', 'channel_sums', 'bn_grad_input', 'max_pool_grad_2x2', 'conv_direct', 'input_grad_k3',
  'filter_grad_direct', 'linf_step', 'max_pool_2x2',
] as const;
/** Jobs that are JavaScript functions chaining calls of both instances (fused-jobs.ts), not one export. */
const SCRIPTED: Partial<Record<ParallelFunction, (product: GemmExports, kernels: FusedJobKernels, memory: WebAssembly.Memory, args: ArrayLike<number>) => void>> = {
  winograd_fused: winogradFusedJob,
  winograd_filter_grad_fused: winogradFilterGradFusedJob,
  filter_grad_taps_fused: filterGradTapsJob,
  gemm_batch: gemmBatchJob,
  conv_direct: convDirectJob,
  input_grad_k3: inputGradK3Job,
  filter_grad_direct: filterGradDirectJob,
};
/** batch_norm's last argument is a float: jobs carry its bits (floatBits), and the call reads them back. */
const FLOAT_LAST = new Set<ParallelFunction>(['batch_norm']);
const bitsView = new DataView(new ArrayBuffer(4));
/** A float32's bits as an int32, for a job's argument list. */
export function floatBits(value: number): number {
  bitsView.setFloat32(0, value);
  return bitsView.getInt32(0);
}
export type ParallelFunction = (typeof PARALLEL_FUNCTIONS)[number];
export interface ParallelJob {
  fn: ParallelFunction;
  args: number[];
}
/** The most arguments a job has (winograd_filter_grad_fused's 30). */
const MAX_ARGS = 32;
const SLOT = MAX_ARGS + 2;

/** The body of each worker: instantiate both modules on the shared memory, then run the jobs it is given, forever. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { gemmModule, kernelsModule, memory, control, index } = workerData;
const ctrl = new Int32Array(control);
const bits = new DataView(new ArrayBuffer(4));
let run;
try {
  const product = new WebAssembly.Instance(gemmModule, { env: { memory } }).exports;
  const kernels = new WebAssembly.Instance(kernelsModule, { env: { memory } }).exports;
  const scripted = { ${Object.entries(SCRIPTED).map(([name, job]) => `${name}: ${job.toString()}`).join(', ')} };
  run = [
    (args) => { product.pack_b(...args.subarray(0, 6)); product.gemm(...args.subarray(6)); },
    ...${JSON.stringify(PARALLEL_FUNCTIONS.slice(1))}.map((name) => scripted[name]
      ? (args) => scripted[name](product, kernels, memory, args)
      : ${JSON.stringify(['batch_norm'])}.includes(name)
      ? (args) => { bits.setInt32(0, args[args.length - 1]); kernels[name](...args.subarray(0, -1), bits.getFloat32(0)); }
      : (args) => kernels[name](...args)),
  ];
  Atomics.add(ctrl, ${1 /* READY */}, 1);
} catch (error) {
  Atomics.store(ctrl, ${3 /* FAILED */}, 1);
}
let seen = workerData.generation;
const base = ${8 /* ARGS */} + ${SLOT} * index;
for (;;) {
  Atomics.wait(ctrl, ${0 /* GENERATION */}, seen);
  seen = Atomics.load(ctrl, ${0 /* GENERATION */});
  const fn = ctrl[base];
  if (fn > 0) {
    try {
      run[fn - 1](ctrl.subarray(base + 2, base + 2 + ctrl[base + 1]));
    } catch (error) {
      Atomics.store(ctrl, ${3 /* FAILED */}, 2);
    }
  }
  Atomics.add(ctrl, ${2 /* DONE */}, 1);
  Atomics.notify(ctrl, ${2 /* DONE */});
}
`;
const GENERATION = 0;
const READY = 1;
const DONE = 2;
const FAILED = 3;
const ARGS = 8;

/** Worker threads that each run a job beside this thread's; usable once every one has instantiated both modules. */
class WorkerPool {
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * (ARGS + SLOT * 8)));
  private readonly workers: Worker[] = [];

  constructor(gemmModule: WebAssembly.Module, kernelsModule: WebAssembly.Module, memory: WebAssembly.Memory, readonly helpers: number) {
    for (let index = 0; index < helpers; index++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { gemmModule, kernelsModule, memory, control: this.control.buffer, index, generation: 0 },
      });
      // A pool that is never used must not keep the process alive, nor an idle worker's wait.
      worker.unref();
      worker.on('error', () => Atomics.store(this.control, FAILED, 1));
      this.workers.push(worker);
    }
  }

  /** Every worker has its instances, and none has failed. */
  get ready(): boolean {
    return Atomics.load(this.control, READY) === this.helpers && Atomics.load(this.control, FAILED) === 0;
  }

  /** Runs jobs[i + 1] on worker i and jobs[0] here (with `local`), then waits for the workers. */
  run(jobs: ParallelJob[], local: (job: ParallelJob) => void): void {
    const ctrl = this.control;
    Atomics.store(ctrl, DONE, 0);
    for (let w = 0; w < this.helpers; w++) {
      const base = ARGS + SLOT * w;
      const job = jobs[w + 1];
      ctrl[base] = job ? 1 + PARALLEL_FUNCTIONS.indexOf(job.fn) : 0;
      if (job) {
        if (job.args.length > MAX_ARGS) throw new Error(`a parallel job takes at most ${MAX_ARGS} arguments, ${job.fn} has ${job.args.length}`);
        ctrl[base + 1] = job.args.length;
        ctrl.set(job.args, base + 2);
      }
    }
    Atomics.add(ctrl, GENERATION, 1);
    Atomics.notify(ctrl, GENERATION);
    local(jobs[0]!);
    for (let done = Atomics.load(ctrl, DONE); done < this.helpers; done = Atomics.load(ctrl, DONE)) {
      Atomics.wait(ctrl, DONE, done);
    }
    if (Atomics.load(ctrl, FAILED) === 2) throw new Error('a job failed in a worker thread');
  }
}

interface GemmInstance {
  exports: GemmExports;
  fma: boolean;
  pool?: WorkerPool;
}

const instances = new WeakMap<WebAssembly.Memory, GemmInstance>();

/** The product for this backend's heap, or undefined where it is off (TEMPER_GEMM=0, no SIMD kernels, no heap). */
export function gemmInstance(backend: BackendWasm): GemmInstance | undefined {
  if (process.env['TEMPER_GEMM']?.trim() === '0' || simdKernels(backend) === undefined) return undefined;
  const memory = backendMemory(backend);
  if (memory === undefined) return undefined;
  let instance = instances.get(memory);
  if (!instance) {
    const shared = isShared(memory);
    const fma = gemmUsesFma();
    const bytes = fma ? (shared ? GEMM_FMA_SHARED_MEMORY : GEMM_FMA_PLAIN_MEMORY) : shared ? GEMM_SHARED_MEMORY : GEMM_PLAIN_MEMORY;
    const module = new WebAssembly.Module(Buffer.from(bytes, 'base64'));
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as GemmExports;
    const threads = shared ? wasmThreadsInUse() : 1;
    instance = { exports, fma, pool: threads > 1 ? new WorkerPool(module, simdModule(true), memory, threads - 1) : undefined };
    instances.set(memory, instance);
  }
  return instance;
}

/** A matrix operand: `floatOffset` floats into `data`, element (i, j) at floatOffset + i * rowStride + j * colStride. */
export interface MatrixOperand {
  data: tf.TensorInfo;
  floatOffset?: number;
  rowStride: number;
  colStride: number;
}

/** C[m x n] = A[m x k] B[k x n], or C += A B with `accumulate`; C row-major with row stride `ldc` floats. */
export interface GemmSpec {
  a: MatrixOperand;
  b: MatrixOperand;
  c: { data: tf.TensorInfo; floatOffset?: number; ldc: number };
  m: number;
  n: number;
  k: number;
  accumulate?: boolean;
}

/** A share of a product: rows [row0, row1) and columns [col0, col1) of C. */
export type GemmShare = { row0: number; row1: number; col0: number; col1: number };

/**
 * How `threads` threads share a product: by column panels where there are enough of them (each thread then packs
 * only its own panels of B), else by blocks of GEMM_MR rows; one share below GEMM_THREADED_MIN_MACS.
 */
export function splitProduct(m: number, n: number, k: number, threads: number): GemmShare[] {
  const whole = { row0: 0, row1: m, col0: 0, col1: n };
  if (threads <= 1 || m * n * k < GEMM_THREADED_MIN_MACS) return [whole];
  const panels = Math.ceil(n / 8);
  const shares: GemmShare[] = [];
  if (panels >= threads) {
    const per = 8 * Math.ceil(panels / threads);
    for (let col = 0; col < n; col += per) shares.push({ row0: 0, row1: m, col0: col, col1: Math.min(n, col + per) });
  } else {
    const per = GEMM_MR * Math.ceil(Math.ceil(m / GEMM_MR) / threads);
    for (let row = 0; row < m; row += per) shares.push({ row0: row, row1: Math.min(m, row + per), col0: 0, col1: n });
  }
  return shares;
}

/** Runs one product (see GemmSpec) with the instance's threads. */
export function gemm(backend: BackendWasm, instance: GemmInstance, spec: GemmSpec): void {
  const { m, n, k } = spec;
  if (m === 0 || n === 0) return;
  const cBase = heapOffset(backend, spec.c.data) + 4 * (spec.c.floatOffset ?? 0);
  const ldc = 4 * spec.c.ldc;
  if (k === 0) {
    // An empty sum: C = 0 (or unchanged).
    if (!spec.accumulate) {
      const view = new Float32Array(backendMemory(backend)!.buffer, cBase, (m - 1) * spec.c.ldc + n);
      for (let i = 0; i < m; i++) view.fill(0, i * spec.c.ldc, i * spec.c.ldc + n);
    }
    return;
  }
  const shares = splitProduct(m, n, k, parallelThreads(instance));
  const { a, b } = spec;
  // Each share packs its own columns of B: [panels][k][8] floats, then GEMM_SCRATCH_BYTES of its own.
  const sizes = shares.map(({ col0, col1 }) => Math.ceil((col1 - col0) / 8) * 8 * k + GEMM_SCRATCH_BYTES / 4);
  const scratch = backend.makeOutput([sizes.reduce((x, y) => x + y, 0)], 'float32');
  const aBase = heapOffset(backend, a.data) + 4 * (a.floatOffset ?? 0);
  const bBase = heapOffset(backend, b.data) + 4 * (b.floatOffset ?? 0);
  let at = heapOffset(backend, scratch);
  const jobs = shares.map(({ row0, row1, col0, col1 }, i): ParallelJob => {
    const packed = at;
    const width = col1 - col0;
    at += 4 * sizes[i]!;
    return {
      fn: 'gemm',
      args: [
        // pack_b's arguments, then gemm's
        bBase + 4 * col0 * b.colStride, 4 * b.rowStride, 4 * b.colStride, k, width, packed,
        aBase, 4 * a.rowStride, 4 * a.colStride, packed, 32 * k, 32, cBase + 4 * col0, ldc, width, k, row0, row1,
        spec.accumulate ? 1 : 0, at - GEMM_SCRATCH_BYTES,
      ],
    };
  });
  runJobs(backend, instance, jobs);
  backend.disposeData(scratch.dataId);
}

/** A batch of products of one shape: product i reads A and B `aStep` and `bStep` floats further on and writes C `cStep` further. */
export interface GemmBatchSpec extends GemmSpec {
  count: number;
  aStep: number;
  bStep: number;
  cStep: number;
}

/**
 * Runs a batch of products (GemmBatchSpec). With at least twice as many products as threads, or products too small to
 * split (attention's heads), whole products go to each thread in one job (gemmBatchJob): one wake-up per thread for
 * the batch, not one per product; each is summed as `gemm` sums it. Otherwise each is split as `gemm` splits it.
 */
export function gemmBatch(backend: BackendWasm, instance: GemmInstance, spec: GemmBatchSpec): void {
  const { m, n, k, count } = spec;
  const available = parallelThreads(instance);
  if (count === 0 || m === 0 || n === 0) return;
  // Whole products per thread where there are enough of them to share evenly, or where none could be split anyway.
  const byProducts = count >= 2 * available || m * n * k < GEMM_THREADED_MIN_MACS;
  if (k === 0 || !byProducts) {
    for (let i = 0; i < count; i++) {
      gemm(backend, instance, {
        ...spec,
        a: { ...spec.a, floatOffset: (spec.a.floatOffset ?? 0) + i * spec.aStep },
        b: { ...spec.b, floatOffset: (spec.b.floatOffset ?? 0) + i * spec.bStep },
        c: { ...spec.c, floatOffset: (spec.c.floatOffset ?? 0) + i * spec.cStep },
      });
    }
    return;
  }
  const shares = count * m * n * k < GEMM_THREADED_MIN_MACS ? 1 : Math.min(count, available);
  const perThread = 8 * Math.ceil(n / 8) * k + GEMM_SCRATCH_BYTES / 4;
  const scratch = backend.makeOutput([shares * perThread], 'float32');
  const at = (operand: MatrixOperand) => heapOffset(backend, operand.data) + 4 * (operand.floatOffset ?? 0);
  runJobs(backend, instance, Array.from({ length: shares }, (_, t) => {
    const packed = heapOffset(backend, scratch) + 4 * t * perThread;
    const args: Record<(typeof GEMM_BATCH_ARGS)[number], number> = {
      first: Math.floor((t * count) / shares), end: Math.floor(((t + 1) * count) / shares),
      a: at(spec.a), aStep: 4 * spec.aStep, rsA: 4 * spec.a.rowStride, csA: 4 * spec.a.colStride,
      b: at(spec.b), bStep: 4 * spec.bStep, rsB: 4 * spec.b.rowStride, csB: 4 * spec.b.colStride,
      c: heapOffset(backend, spec.c.data) + 4 * (spec.c.floatOffset ?? 0), cStep: 4 * spec.cStep, ldc: 4 * spec.c.ldc,
      m, n, k, add: spec.accumulate ? 1 : 0, packed, scratch: packed + 4 * (perThread - GEMM_SCRATCH_BYTES / 4),
    };
    return { fn: 'gemm_batch', args: GEMM_BATCH_ARGS.map((name) => args[name]) };
  }));
  backend.disposeData(scratch.dataId);
}

/** Threads a job list may be split over now: this one and the pool's, once its workers are ready. */
export function parallelThreads(instance: GemmInstance | undefined): number {
  return instance?.pool?.ready ? 1 + instance.pool.helpers : 1;
}

/** Runs one job on this thread: the product (with `instance`) or a SIMD kernel, a float last argument read from its bits. */
function runHere(backend: BackendWasm, instance: GemmInstance | undefined, { fn, args }: ParallelJob): void {
  if (fn === 'gemm') {
    instance!.exports.pack_b(...(args.slice(0, 6) as Parameters<GemmExports['pack_b']>));
    instance!.exports.gemm(...(args.slice(6) as Parameters<GemmExports['gemm']>));
    return;
  }
  const scripted = SCRIPTED[fn];
  if (scripted) {
    // Without the product (TEMPER_GEMM=0) only a job that does not use it is given (filter_grad_taps_fused).
    scripted(instance?.exports as GemmExports, simdKernels(backend)!, backendMemory(backend)!, args);
    return;
  }
  const kernel = simdKernels(backend)![fn as Exclude<ParallelFunction, 'gemm' | 'winograd_fused' | 'winograd_filter_grad_fused' | 'filter_grad_taps_fused' | 'gemm_batch' | 'conv_direct' | 'input_grad_k3' | 'filter_grad_direct'>] as (...values: number[]) => void;
  if (!FLOAT_LAST.has(fn)) {
    kernel(...args);
    return;
  }
  bitsView.setInt32(0, args.at(-1)!);
  kernel(...args.slice(0, -1), bitsView.getFloat32(0));
}

/** Runs the jobs, on the pool's workers and this thread where it is ready (at most parallelThreads at once), else here in turn. */
export function runJobs(backend: BackendWasm, instance: GemmInstance, jobs: ParallelJob[]): void {
  const local = (job: ParallelJob): void => runHere(backend, instance, job);
  const pool = instance.pool?.ready ? instance.pool : undefined;
  if (pool && jobs.length > 1) {
    for (let start = 0; start < jobs.length; start += 1 + pool.helpers) pool.run(jobs.slice(start, start + 1 + pool.helpers), local);
  } else {
    for (const job of jobs) local(job);
  }
}

/** Below this many elements an elementwise kernel runs on this thread alone. */
export const PARALLEL_MIN_ELEMENTS = 1 << 16;

/**
 * [first, end) of `count` items for each thread that an elementwise kernel of `count` items may use now (one below
 * PARALLEL_MIN_ELEMENTS items or without a ready pool), each a multiple of `quantum` items but the last. `most`:
 * at most this many shares, for a caller that sized per-thread buffers from parallelThreads earlier (the pool may have
 * become ready since: its workers start after the backend).
 */
export function elementShares(backend: BackendWasm, count: number, quantum: number, elements = count, most = Infinity): Array<[number, number]> {
  const threads = elements < PARALLEL_MIN_ELEMENTS ? 1 : Math.min(most, parallelThreads(gemmInstance(backend)));
  const per = quantum * Math.ceil(Math.ceil(count / quantum) / threads);
  const shares: Array<[number, number]> = [];
  for (let first = 0; first < count; first += per) shares.push([first, Math.min(count, first + per)]);
  return shares.length > 0 ? shares : [[0, count]];
}

/** Runs SIMD-kernel jobs on the pool where there is one (runJobs), else here in turn (TEMPER_GEMM=0). */
export function runKernelJobs(backend: BackendWasm, jobs: ParallelJob[]): void {
  const instance = gemmInstance(backend);
  if (instance) runJobs(backend, instance, jobs);
  else for (const job of jobs) runHere(backend, undefined, job);
}
