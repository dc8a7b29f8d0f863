// The project's WebAssembly SIMD kernels (kernels.wat), instantiated on tfjs-wasm's own memory so they read and write
// tensors where they lie. One instance per memory; undefined where the backend's memory cannot be reached.
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type * as tf from '@tensorflow/tfjs';
import { SIMD_PLAIN_MEMORY, SIMD_SHARED_MEMORY } from './binary.js';

/** The exported functions; every pointer is the byte offset of a float32 array in the backend's memory. */
export interface SimdKernels {
  relu_grad(x: number, dy: number, dx: number, count: number): void;
  max_pool_2x2(x: number, y: number, rows: number, width: number, channels: number): void;
  max_pool_grad_2x2(x: number, dy: number, dx: number, rows: number, width: number, channels: number, relu: number, sums: number): void;
  col2im(cols: number, dx: number, geometry: number): void;
  transpose(input: number, output: number, rows: number, cols: number): void;
  winograd_filter(g: number, u: number, taps: number, flip: number): void;
  winograd_input(x: number, v: number, zeros: number, geometry: number): void;
  winograd_output(m: number, y: number, bias: number, sink: number, geometry: number): void;
  winograd_dy_planes(dy: number, w: number, geometry: number): void;
  winograd4_filter(g: number, u: number, taps: number, flip: number): void;
  winograd4_input(x: number, v: number, zeros: number, geometry: number): void;
  winograd4_output(m: number, y: number, bias: number, sink: number, geometry: number): void;
  winograd4_dy_planes(dy: number, w: number, geometry: number): void;
  winograd4_filter_grad_output(m: number, dw: number, taps: number): void;
  winograd_filter_grad_output(m: number, dw: number, taps: number): void;
  batch_norm(x: number, out: number, params: number, rows: number, channels: number, epsilon: number): void;
  sum_leading_axes(x: number, out: number, totals: number, rows: number, channels: number): void;
  channel_sums(u: number, v: number, centres: number, out: number, rows: number, channels: number, block: number): void;
  bn_grad_input(dy: number, x: number, params: number, dx: number, rows: number, channels: number): void;
  im2col(x: number, cols: number, geometry: number): void;
  bias_activation(y: number, bias: number, rows: number, channels: number, relu: number): void;
  dy_to_planes(dy: number, planes: number, geometry: number): void;
  filter_grad_taps(cols: number, dy: number, out: number, taps: number, positions: number, channels: number): void;
  input_grad_few_channels(dy: number, filter: number, dx: number, geometry: number): void;
  binary_f32(a: number, b: number, out: number, n: number, op: number, scalar: number): void;
  linf_step(x: number, g: number, clean: number, out: number, n: number, stepBits: number, epsBits: number): void;
  adam(
    w: number, m: number, v: number, g: number, outW: number, outM: number, outV: number, count: number,
    beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, epsilon: number, step: number,
    c1: number, c2: number,
  ): void;
}

/** What the kernels need from the Emscripten module behind BackendWasm (the threaded build exports its memory as wasmMemory). */
interface EmscriptenModule {
  wasmMemory?: WebAssembly.Memory;
  asm?: { memory?: WebAssembly.Memory };
}

const instances = new WeakMap<WebAssembly.Memory, SimdKernels>();
const modules = new Map<boolean, WebAssembly.Module>();

/** The compiled kernels, for a shared memory (tfjs-wasm's threaded build) or a plain one; compiled once each. */
export function simdModule(shared: boolean): WebAssembly.Module {
  let module = modules.get(shared);
  if (!module) {
    module = new WebAssembly.Module(Buffer.from(shared ? SIMD_SHARED_MEMORY : SIMD_PLAIN_MEMORY, 'base64'));
    modules.set(shared, module);
  }
  return module;
}

/** The backend's heap (the threaded build exports it as wasmMemory), or undefined where it cannot be reached. */
export function backendMemory(backend: BackendWasm): WebAssembly.Memory | undefined {
  const module = backend.wasm as unknown as EmscriptenModule;
  const memory = module.wasmMemory ?? module.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}

/** Whether the heap is a shared memory (tfjs-wasm's threaded build). */
export function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

export function simdKernels(backend: BackendWasm): SimdKernels | undefined {
  if (process.env['TEMPER_NO_SIMD_KERNELS'] === '1') return undefined;
  const memory = backendMemory(backend);
  if (memory === undefined) return undefined;
  let kernels = instances.get(memory);
  if (!kernels) {
    const shared = isShared(memory);
    kernels = new WebAssembly.Instance(simdModule(shared), { env: { memory } }).exports as unknown as SimdKernels;
    instances.set(memory, kernels);
  }
  return kernels;
}

/** Byte offset of a tensor's data in the backend's memory. */
export function heapOffset(backend: BackendWasm, info: tf.TensorInfo): number {
  return (backend.dataIdMap.get(info.dataId) as unknown as { memoryOffset: number }).memoryOffset;
}
