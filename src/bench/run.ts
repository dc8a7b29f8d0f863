// `temper bench`: one backend in this process, or (`auto`) every backend that loads, each in a child process of its
// own; the report (JSON) and its table.
import { fork } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BackendError, initBackend, type BackendChoice } from '../backend/index.js';
import { versions } from '../runner/versions.js';
import { alignColumns } from '../util/text.js';
import { BENCH_EPS, BENCH_STEP_SIZE, BENCH_TEMPERATURE, firstLine, formatRate, measureBackend, type BackendResult, type BenchLog, type BenchSettings } from './measure.js';
import { DEFAULT_PROFILE_TOP, formatProfile } from './profile.js';

export type BenchBackend = Exclude<BackendChoice, 'auto'>;
/** What `auto` measures, in order: every backend of these that loads (webgpu only on a hardware adapter, as `auto` picks it). */
export const BENCH_AUTO_BACKENDS: BenchBackend[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

/** The JSON that `temper bench --json` prints (documented in the README, `temper bench`). */
export interface BenchReport {
  /** ISO 8601 time the benchmark started. */
  date: string;
  /** temper, node and the tfjs packages (src/runner/versions.ts). */
  versions: Record<string, string>;
  /** Project kernels are on unless TEMPER_STOCK_KERNELS=1; `env` is that variable's value (null when unset). */
  kernels: { project: boolean; env: string | null };
  host: { platform: string; arch: string; cpuModel: string; cpus: number; loadAverage: number[] };
  /** How every measurement was taken. */
  settings: Omit<BenchSettings, 'batch' | 'warmupSteps' | 'minSteps'> & {
    backend: BackendChoice;
    /** null: each backend's default plan (measure.ts STANDARD_PLAN / CPU_PLAN); every measurement records what it used. */
    batch: number | null;
    warmupSteps: number | null;
    minSteps: number | null;
    temperature: number;
    eps: number;
    stepSize: number;
    optimizer: string;
  };
  /** One entry per backend asked for (with `auto`: tensorflow, webgpu (hardware adapters only), wasm, cpu, loaded or not). */
  backends: BackendResult[];
  /** True when every requested backend loaded and every measurement ran (exit 0). */
  complete: boolean;
}

export type ToBenchChild = { backend: BenchBackend; settings: BenchSettings; quiet: boolean; hardwareOnly: boolean };
export type FromBenchChild = { type: 'loaded' } | { type: 'result'; result: BackendResult } | { type: 'error'; message: string };

const CHILD_ENTRY = fileURLToPath(new URL('./child.js', import.meta.url));

function unloaded(backend: string, error: string): BackendResult {
  return { backend, loaded: false, error, provider: null, providerVersion: null, device: null, projectKernels: [], notes: [], measurements: [] };
}

/** Initialises `backend` in this process (the only one it may use from then on) and measures it. */
export async function benchOneBackend(
  backend: BenchBackend,
  settings: BenchSettings,
  log: BenchLog,
  onLoaded: () => void = () => {},
  hardwareOnly = false,
): Promise<BackendResult> {
  let info;
  try {
    info = await initBackend(backend, { hardwareOnly });
  } catch (error) {
    if (error instanceof BackendError) return unloaded(backend, error.message);
    throw error;
  }
  onLoaded();
  log(`bench ${backend}: ${info.provider} loaded (${info.reason})`);
  return measureBackend(info, settings, log);
}

/** Measures `backend` in a child process of its own; a child that dies is reported as the backend's error. */
export function benchInChild(backend: BenchBackend, settings: BenchSettings, quiet: boolean): Promise<BackendResult> {
  return new Promise((resolve) => {
    // stdout stays ours (the table or the JSON); the child's progress and crashes reach stderr.
    const child = fork(CHILD_ENTRY, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let answer: FromBenchChild | undefined;
    let loaded = false;
    child.on('message', (message: FromBenchChild) => {
      if (message.type === 'loaded') loaded = true;
      else answer = message;
    });
    child.on('error', (error) => resolve(unloaded(backend, `could not start a benchmark process: ${error.message}`)));
    child.on('exit', (code, signal) => {
      if (answer?.type === 'result') return resolve(answer.result);
      const why =
        answer?.type === 'error' ? `benchmark process failed: ${firstLine(answer.message)}` : `benchmark process exited with ${signal ?? `code ${code}`} before reporting`;
      // Loaded but died while measuring: an incomplete run (exit 1), unlike a backend that is merely absent.
      resolve({ ...unloaded(backend, why), loaded });
    });
    // Under auto, a software webgpu adapter (lavapipe, SwiftShader) is not worth minutes of measuring.
    child.send({ backend, settings, quiet, hardwareOnly: true } satisfies ToBenchChild);
  });
}

/** Where progress lines go: nowhere when quiet, else to the caller's log, else to stderr. */
export function benchLog(options: { quiet?: boolean; log?: BenchLog }): BenchLog {
  return options.quiet ? () => {} : (options.log ?? ((line: string) => process.stderr.write(`${line}\n`)));
}

/** The head of a report: when, which versions, kernels and host, and how every measurement is taken. */
export function reportHead(backend: BackendChoice, settings: BenchSettings): Pick<BenchReport, 'date' | 'versions' | 'kernels' | 'host' | 'settings'> {
  const env = process.env['TEMPER_STOCK_KERNELS'] ?? null;
  const cpuList = cpus();
  return {
    date: new Date().toISOString(),
    versions: versions(),
    kernels: { project: env !== '1', env },
    host: { platform: process.platform, arch: process.arch, cpuModel: cpuList[0]?.model.trim() ?? 'unknown', cpus: cpuList.length, loadAverage: loadavg() },
    settings: {
      backend,
      ...settings,
      batch: settings.batch ?? null,
      warmupSteps: settings.warmupSteps ?? null,
      minSteps: settings.minSteps ?? null,
      temperature: BENCH_TEMPERATURE,
      eps: BENCH_EPS,
      stepSize: BENCH_STEP_SIZE,
      optimizer: 'adam',
    },
  };
}

/** Runs the benchmark: `backend` in this process, or with `auto` every backend in a child process each. */
export async function runBench(backend: BackendChoice, settings: BenchSettings, options: { quiet?: boolean; log?: BenchLog } = {}): Promise<BenchReport> {
  const log = benchLog(options);
  const report: BenchReport = { ...reportHead(backend, settings), backends: [], complete: false };
  if (backend === 'auto') {
    for (const name of BENCH_AUTO_BACKENDS) {
      log(`bench ${name}: starting a process for it`);
      const result = await benchInChild(name, settings, options.quiet ?? false);
      if (!result.loaded) log(`bench ${name}: skipped: ${result.error}`);
      report.backends.push(result);
    }
    const loaded = report.backends.filter((result) => result.loaded);
    report.complete = loaded.length > 0 && loaded.every(measuredAll);
  } else {
    report.backends.push(await benchOneBackend(backend, settings, log));
    report.complete = report.backends.every((result) => result.loaded && measuredAll(result));
  }
  return report;
}

function measuredAll(result: BackendResult): boolean {
  return result.error === null && result.measurements.every((m) => m.error === null);
}

/** The report as a readable table with a header and notes, for stdout; then, with --profile, a table per profiled step. */
export function formatBench(report: BenchReport, options: { profileTop?: number } = {}): string {
  const v = report.versions;
  const { settings, host } = report;
  const kernels = report.kernels.project ? 'project kernels on' : 'project kernels off (TEMPER_STOCK_KERNELS=1)';
  const lines = [
    `temper ${v['temper']}, node ${v['node']}, tfjs ${v['tfjs-core']}; ${kernels}; ${report.date}`,
    `host: ${host.cpus} x ${host.cpuModel}, load average ${host.loadAverage.map((x) => x.toFixed(2)).join(' ')}`,
    `method: untimed warm-up steps, then timed steps until both >= min steps and >= ${settings.minSeconds} s (at most ${settings.maxSeconds} s); ` +
      `median step time. train = adam on CE(z/${settings.temperature}); pgd = input gradient of CE + sign step + Linf projection`,
    '',
  ];
  const rows: string[][] = [['backend', 'model', 'what', 'batch', 'warm-up', 'steps', 'ms/step', 'images/s', 'tensors before', 'tensors after']];
  const notes: string[] = [];
  for (const result of report.backends) {
    if (result.error !== null) {
      notes.push(`${result.backend}: ${result.loaded ? 'loaded, then its process failed' : 'not measured'}: ${result.error}`);
      continue;
    }
    const kernelsHere = result.projectKernels.length ? result.projectKernels.join(', ') : 'none';
    notes.push(`${result.backend}: ${result.provider} ${result.providerVersion ?? ''} (${result.device}); project kernels: ${kernelsHere}`);
    notes.push(...result.notes);
    for (const m of result.measurements) {
      const failed = m.error !== null;
      rows.push([
        result.backend,
        m.model,
        m.what,
        String(m.batch),
        String(m.warmupSteps),
        String(m.steps) + (m.capped ? ' (capped)' : ''),
        failed ? 'failed' : m.msPerStep!.toFixed(1),
        failed ? '-' : formatRate(m.imagesPerSecond!),
        m.memory.before ? String(m.memory.before.numTensors) : '-',
        m.memory.after ? String(m.memory.after.numTensors) : '-',
      ]);
      if (failed) notes.push(`${result.backend} ${m.model} ${m.what}: ${m.error}`);
      else if (m.memory.after!.numTensors !== m.memory.before!.numTensors) {
        const change = m.memory.after!.numTensors - m.memory.before!.numTensors;
        // Without warm-up, `before` precedes the first step, which creates adam's slots: growth is then expected.
        const why = m.warmupSteps === 0 ? 'no warm-up, so this includes state the first step creates' : 'a leak';
        notes.push(`${result.backend} ${m.model} ${m.what}: tensors changed by ${change} over ${m.steps} timed steps (${why})`);
      }
    }
  }
  lines.push(...alignColumns(rows, new Set([3, 4, 5, 6, 7, 8, 9])), '', ...notes);
  const profiled = report.backends.flatMap((result) => result.measurements.flatMap((m) => (m.profile ? [{ backend: result.backend, m, profile: m.profile }] : [])));
  if (profiled.length > 0) {
    lines.push(
      '',
      'profile: one more step of each measurement under tf.profile, after the timed ones and not among them. ms: time in the ' +
        "kernel itself (kernels run inside it count under their own names); share: of the step's kernel time",
    );
    for (const { backend, m, profile } of profiled) {
      lines.push('', ...formatProfile(`${backend} ${m.model} ${m.what}, batch ${m.batch}`, profile, options.profileTop ?? DEFAULT_PROFILE_TOP));
    }
  }
  return lines.join('\n');
}
