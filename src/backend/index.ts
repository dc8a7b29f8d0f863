// Backend selection: tfjs-node (GPU, then CPU build) where it installed, else webgpu on a hardware adapter, else wasm;
// cpu for tests.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { BackendError } from './errors.js';
import { unrefWasmThreads, wasmThreadCount, withWasmThreads, WASM_THREADS_ENV } from './wasm-threads.js';
import { checkWinogradEnv } from './kernels/winograd.js';
import { checkGemmEnv, gemmInstance } from './kernels/gemm.js';
import { registerProjectKernels } from './kernels/index.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendInfo {
  /** tfjs backend name actually in use: "tensorflow", "webgpu", "wasm" or "cpu". */
  name: string;
  /** Which package provided it, e.g. "@tensorflow/tfjs-node-gpu". */
  provider: string;
  /** Why this backend was chosen, in words (what was tried and failed first). */
  reason: string;
  /** Project kernels registered on top of the stock ones. */
  projectKernels: string[];
}

export { BackendError } from './errors.js';

/** Outcome of trying to load one backend, kept for `temper doctor`. */
export interface BackendProbe {
  backend: string;
  provider: string;
  ok: boolean;
  detail: string;
  /** webgpu only: the adapters Dawn offers, one line each (for `temper doctor`). */
  adapters?: string[];
  /** Project kernels registered, where the probe ran in a child process (webgpu in `temper doctor`). */
  projectKernels?: string[];
}

const TENSORFLOW_PROVIDERS = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let active: BackendInfo | undefined;

async function tryTensorflow(): Promise<BackendProbe> {
  const failures: string[] = [];
  for (const provider of TENSORFLOW_PROVIDERS) {
    const unbuilt = missingAddon(provider);
    if (unbuilt) {
      failures.push(`${provider}: ${unbuilt}`);
      continue;
    }
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

/**
 * Why a tfjs-node package cannot load, found without importing it: where its install script never ran (no internet,
 * or npm 11 blocking install scripts), it lacks lib/napi-v<N>/tfjs_binding.node, and importing it would register half
 * of its kernels before failing, which prints a warning per kernel ("The kernel 'Add' ... is already registered").
 */
function missingAddon(provider: string): string | undefined {
  let folder: string;
  try {
    folder = dirname(createRequire(import.meta.url).resolve(`${provider}/package.json`));
  } catch {
    return 'not installed';
  }
  const lib = join(folder, 'lib');
  const built = existsSync(lib) && readdirSync(lib).some((entry) => /^napi-v\d+$/.test(entry) && existsSync(join(lib, entry, 'tfjs_binding.node')));
  return built ? undefined : 'installed without its native addon (its install script, which downloads libtensorflow, did not run)';
}

/** The parts of the `webgpu` package (Dawn) and of WebGPU that the probe uses; typed here since the package is optional. */
interface GpuAdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  type?: string;
  isFallbackAdapter?: boolean;
}
interface GpuAdapter {
  info?: GpuAdapterInfo;
  isFallbackAdapter?: boolean;
}
interface Gpu {
  requestAdapter(options?: { powerPreference?: 'low-power' | 'high-performance'; forceFallbackAdapter?: boolean }): Promise<GpuAdapter | null>;
}
interface DawnModule {
  create(options: string[]): Gpu;
  globals: Record<string, unknown>;
}

const WEBGPU_PROVIDER = '@tensorflow/tfjs-backend-webgpu on Dawn (webgpu)';

/** CPU implementations of WebGPU/Vulkan: correct but much slower than wasm, so `auto` never picks them. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|softpipe|basic render driver/i;

/** "llvmpipe" for Mesa's lavapipe, else the name the adapter gives; undefined for a hardware adapter. */
export function softwareAdapterName(adapter: GpuAdapter): string | undefined {
  const info = adapter.info ?? {};
  const text = [info.description, info.device, info.architecture, info.vendor].filter(Boolean).join(' ');
  const named = SOFTWARE_ADAPTER.exec(text)?.[0];
  const flagged = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || info.type === 'cpu' || info.architecture === 'software';
  if (named) return named.toLowerCase() === 'lavapipe' ? 'llvmpipe' : named.toLowerCase() === 'swiftshader' ? 'SwiftShader' : named.toLowerCase();
  return flagged ? (info.description || info.device || info.vendor || 'unnamed').split(':')[0]!.trim() : undefined;
}

/** One line naming an adapter, e.g. "NVIDIA: 580.159.04 (vendor nvidia, architecture hopper, device ...)". */
export function describeAdapter(adapter: GpuAdapter): string {
  const info = adapter.info ?? {};
  const name = info.description || info.device || 'unnamed adapter';
  const parts = [['vendor', info.vendor], ['architecture', info.architecture], ['device', info.device !== name ? info.device : '']]
    .filter(([, value]) => value)
    .map(([key, value]) => `${key} ${value}`);
  const software = softwareAdapterName(adapter);
  if (software) parts.push(`software adapter (${software})`);
  return parts.length ? `${name} (${parts.join(', ')})` : name;
}

/** Every adapter Dawn offers for the three ways of asking, without duplicates; the first is what tfjs-webgpu gets. */
async function listAdapters(gpu: Gpu): Promise<GpuAdapter[]> {
  const asks = [{ powerPreference: 'high-performance' as const }, { powerPreference: 'low-power' as const }, { forceFallbackAdapter: true }];
  const found = new Map<string, GpuAdapter>();
  for (const ask of asks) {
    const adapter = await gpu.requestAdapter(ask).catch(() => null);
    if (adapter && !found.has(describeAdapter(adapter))) found.set(describeAdapter(adapter), adapter);
  }
  return [...found.values()];
}

/**
 * Asks a child process which adapter Dawn offers, then loads webgpu here. A software adapter is refused unless
 * `allowSoftware` (an explicit `--backend webgpu`), and no adapter at all is reported from the child's findings: Dawn
 * prints warnings on stderr while it inspects Vulkan drivers (with source paths of its build machine, e.g. for a
 * missing libvulkan1), which should reach the user only when webgpu is actually used.
 */
async function tryWebgpu(allowSoftware: boolean): Promise<BackendProbe> {
  const verdict = adapterVerdict();
  if (!verdict.hardware && (!allowSoftware || verdict.adapters.length === 0)) {
    return { backend: 'webgpu', provider: WEBGPU_PROVIDER, ok: false, detail: verdict.detail, adapters: verdict.adapters };
  }
  return loadWebgpu(allowSoftware);
}

/**
 * Loads Dawn in this process and asks for the adapter tfjs-webgpu will get (high-performance); a software adapter is
 * refused unless `allowSoftware`, before tfjs-webgpu is imported, so `auto` leaves no trace of it.
 */
export async function loadWebgpu(allowSoftware: boolean): Promise<BackendProbe> {
  const fail = (detail: string, adapters?: string[]): BackendProbe => ({ backend: 'webgpu', provider: WEBGPU_PROVIDER, ok: false, detail, adapters });
  let dawn: DawnModule;
  try {
    // `as string` keeps TypeScript from resolving the optional package; the emitted import is the plain literal.
    dawn = (await import('webgpu' as string)) as DawnModule;
  } catch (error) {
    return fail(`${firstLine(error)} (package webgpu)`);
  }
  let gpu: Gpu;
  let adapters: GpuAdapter[];
  try {
    gpu = dawn.create(dawnFlags());
    adapters = await listAdapters(gpu);
  } catch (error) {
    return fail(`Dawn: ${firstLine(error)}`);
  }
  const lines = adapters.map(describeAdapter);
  const chosen = adapters[0];
  if (!chosen) return fail('no GPU adapter (Dawn found none)', lines);
  const software = softwareAdapterName(chosen);
  if (software && !allowSoftware) return fail(`only a software adapter (${software}), skipped`, lines);
  try {
    // tfjs-webgpu registers its backend on import only where navigator.gpu exists, and uses WebGPU's global
    // constants (GPUBufferUsage, GPUMapMode, ...): Node has neither, Dawn provides both.
    for (const [name, value] of Object.entries(dawn.globals)) {
      if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
    }
    const navigator = (globalThis as { navigator?: object }).navigator;
    if (navigator) Object.defineProperty(navigator, 'gpu', { value: gpu, configurable: true, writable: true });
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    await import('@tensorflow/tfjs-backend-webgpu' as string);
    if (!(await tf.setBackend('webgpu'))) throw new Error('setBackend("webgpu") returned false (no device on the adapter)');
  } catch (error) {
    const text = firstLine(error);
    return fail(text === 'not installed' ? 'not installed (package @tensorflow/tfjs-backend-webgpu)' : `${describeAdapter(chosen)}: ${text}`, lines);
  }
  return { backend: 'webgpu', provider: WEBGPU_PROVIDER, ok: true, detail: describeAdapter(chosen), adapters: lines };
}

const ADAPTER_PROBE = fileURLToPath(new URL('./adapter-probe.js', import.meta.url));

/** What a child process found: whether Dawn's first adapter is a hardware one, and every adapter it lists. */
export interface AdapterVerdict {
  hardware: boolean;
  detail: string;
  adapters: string[];
}

function adapterVerdict(): AdapterVerdict {
  const { result, notes, failure } = runProbeChild<AdapterVerdict>([]);
  if (!result) return { hardware: false, detail: `adapter probe failed: ${failure}`, adapters: [] };
  // With no adapter, what Dawn said on the way is the reason (e.g. no Vulkan loader); otherwise it is noise.
  if (result.adapters.length === 0 && notes.length > 0) result.detail = notes.join('; ');
  return result;
}

/** The webgpu probe of `temper doctor`, run whole in a child process (adapter-probe.js --load) so Dawn's stderr stays there. */
async function probeWebgpuApart(): Promise<BackendProbe> {
  const { result, notes, failure } = runProbeChild<BackendProbe>(['--load']);
  if (!result) return { backend: 'webgpu', provider: WEBGPU_PROVIDER, ok: false, detail: `probe failed: ${failure}` };
  if (!result.ok && !result.adapters?.length && notes.length > 0) result.detail = notes.join('; ');
  return result;
}

/** Runs adapter-probe.js with `args`: the JSON line it printed, Dawn's stderr in words, or why there is no result. */
function runProbeChild<T>(args: string[]): { result?: T; notes: string[]; failure?: string } {
  const child = spawnSync(process.execPath, [ADAPTER_PROBE, ...args], { encoding: 'utf8', timeout: 60_000 });
  const notes = dawnNotes(child.stderr ?? '');
  try {
    return { result: JSON.parse(child.stdout) as T, notes };
  } catch {
    return { notes, failure: child.error?.message ?? (notes.at(-1) || `exit ${child.status ?? child.signal}`) };
  }
}

/**
 * What Dawn printed on stderr, in words for a user: "Couldn't load Vulkan: libvulkan.so.1: cannot open shared object
 * file" becomes "no Vulkan loader (libvulkan1): webgpu unavailable"; other warnings keep their first line, without
 * the source locations of Dawn's build machine ("at operator() (/home/runner/.../BackendVk.cpp:368)").
 */
export function dawnNotes(stderr: string): string[] {
  const notes = new Set<string>();
  for (const line of stderr.split('\n')) {
    const text = line.trim();
    if (text === '' || /^at .*[\\/][^\\/]+\.(cpp|cc|h|mm):\d+\)?$/.test(text)) continue;
    if (/Couldn't load Vulkan.*libvulkan\.so/i.test(text)) notes.add('no Vulkan loader (libvulkan1): webgpu unavailable');
    else notes.add(text.replace(/^(Warning|Error):\s*/, '').replace(/\s*\(?\S*[\\/]\S+\.(cpp|cc|h|mm):\d+\)?/g, ''));
  }
  return [...notes];
}

/** The backend `--backend auto` would choose here, and why (for usage messages); run it in a process about to exit. */
export async function whatAutoPicks(): Promise<{ backend: string; why: string }> {
  const tensorflow = await tryTensorflow();
  if (tensorflow.ok) return { backend: 'tensorflow', why: `${tensorflow.provider} loads` };
  const webgpu = adapterVerdict();
  if (webgpu.hardware) return { backend: 'webgpu', why: webgpu.detail };
  // One reason per kind of failure, without the package names: "not installed", "installed without its native addon".
  const reasons = new Set(tensorflow.detail.split('; ').map((part) => part.replace(/^@tensorflow\/tfjs-node(-gpu)?: /, '').replace(/ \(.*$/, '')));
  return { backend: 'wasm', why: `tensorflow: ${[...reasons].join(', ')}; webgpu: ${webgpu.detail}` };
}

/** Loads Dawn in this process and judges its first adapter (the body of the adapter-probe child). */
export async function judgeAdapters(): Promise<AdapterVerdict> {
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu' as string)) as DawnModule;
  } catch (error) {
    return { hardware: false, detail: `${firstLine(error)} (package webgpu)`, adapters: [] };
  }
  try {
    const adapters = await listAdapters(dawn.create(dawnFlags()));
    const lines = adapters.map(describeAdapter);
    const chosen = adapters[0];
    if (!chosen) return { hardware: false, detail: 'no GPU adapter (Dawn found none)', adapters: lines };
    const software = softwareAdapterName(chosen);
    return software
      ? { hardware: false, detail: `only a software adapter (${software}), skipped`, adapters: lines }
      : { hardware: true, detail: describeAdapter(chosen), adapters: lines };
  } catch (error) {
    return { hardware: false, detail: `Dawn: ${firstLine(error)}`, adapters: [] };
  }
}

async function tryWasm(requestedThreads?: number): Promise<BackendProbe> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const threads = requestedThreads ?? wasmThreadCount();
    checkWinogradEnv();
    checkGemmEnv();
    let note = '';
    let ok = false;
    if (threads > 1) {
      try {
        ok = await withWasmThreads(threads, wasm.setThreadsCount, () => tf.setBackend('wasm'));
      } catch (error) {
        note = `; threaded build failed (${firstLine(error)}), ${WASM_THREADS_ENV}=1 avoids the attempt`;
      }
      if (!ok && note === '') note = `; threaded build failed to initialise, ${WASM_THREADS_ENV}=1 avoids the attempt`;
    }
    if (!ok) {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      wasm.setThreadsCount(1);
      if (!(await tf.setBackend('wasm'))) throw new Error('setBackend("wasm") returned false');
    }
    unrefWasmThreads(tf.findBackend('wasm'));
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const count = wasm.getThreadsCount();
    // (Starting the product's worker threads now, so that they are ready by the first product.)
    const gemm = process.env['TEMPER_STOCK_KERNELS'] === '1' ? undefined : gemmInstance(tf.findBackend('wasm') as BackendWasm);
    const products = gemm ? `, matrix products: temper's${gemm.fma ? ' with FMA' : ''}` : '';
    return {
      backend: 'wasm', provider: '@tensorflow/tfjs-backend-wasm', ok: true,
      detail: `simd ${simd ? 'on' : 'off'}, ${count} thread${count === 1 ? '' : 's'}${products}${note}`,
    };
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
  webgpu: () => tryWebgpu(true),
  wasm: () => tryWasm(),
  cpu: tryCpu,
};

/**
 * Flags for Dawn's `create`, from TEMPER_DAWN_FLAGS (space-separated, e.g. `enable-dawn-features=allow_unsafe_apis`,
 * which a kernel profile on webgpu may need for timestamp queries); none by default.
 */
export function dawnFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env['TEMPER_DAWN_FLAGS'] ?? '').split(/\s+/).filter((flag) => flag !== '');
}

/**
 * Selects and initialises a backend once per process; later calls return the same one. `hardwareOnly` makes an explicit
 * `webgpu` refuse a software adapter as `auto` does (`temper bench` measures webgpu only on a real GPU). `wasmThreads`
 * sizes the wasm thread pool (default: TEMPER_WASM_THREADS, else every core up to 8).
 */
export async function initBackend(
  choice: BackendChoice = 'auto',
  options: { hardwareOnly?: boolean; wasmThreads?: number } = {},
): Promise<BackendInfo> {
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
    const webgpu = tried.ok ? undefined : await tryWebgpu(false);
    if (tried.ok) {
      probe = tried;
      reason = `auto: ${tried.provider} loaded`;
    } else if (webgpu!.ok) {
      probe = webgpu!;
      reason = `auto: tensorflow unavailable (${tried.detail}), using webgpu (${webgpu!.detail})`;
    } else {
      probe = await tryWasm(options.wasmThreads);
      if (!probe.ok) throw new BackendError(`no backend loads: tensorflow (${tried.detail}); webgpu (${webgpu!.detail}); wasm (${probe.detail})`);
      reason = `auto: tensorflow unavailable (${tried.detail}); webgpu: ${webgpu!.detail}; using wasm (${probe.detail})`;
    }
  } else {
    probe =
      choice === 'webgpu' && options.hardwareOnly ? await tryWebgpu(false) : choice === 'wasm' ? await tryWasm(options.wasmThreads) : await PROBES[choice]();
    if (!probe.ok) throw new BackendError(`backend "${choice}" does not load: ${probe.detail}`);
    reason = `requested with --backend ${choice} (${probe.detail})`;
  }
  await tf.ready();
  active = { name: tf.getBackend(), provider: probe.provider, reason, projectKernels: registerProjectKernels(tf.getBackend()) };
  return active;
}

/** Tries every backend without keeping any (for `temper doctor`; webgpu in a child process); run it in a process of its own. */
export async function probeBackends(): Promise<BackendProbe[]> {
  const results: BackendProbe[] = [];
  for (const name of ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const) results.push(await (name === 'webgpu' ? probeWebgpuApart() : PROBES[name]()));
  return results;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.replace(/^Cannot find (package|module) '([^']+)'.*/, 'not installed');
}
