// `temper bench --peer torch`: temper's wasm steps against the same models and steps in PyTorch on the CPU
// (scripts/gpu/torch_reference.py), taken in turn, temper then PyTorch for each model and step of each round, so that
// a change in the machine's load hits both. Absolute images/s differ by a third between machines; the ratio within a
// round is the figure to read.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../backend/index.js';
import { wasmThreadsInUse } from '../backend/wasm-threads.js';
import { alignColumns, plural } from '../util/text.js';
import {
  describeMeasurement,
  deviceOf,
  firstLine,
  formatRate,
  measureStep,
  planFor,
  providerVersion,
  type BenchKind,
  type BenchLog,
  type BenchSettings,
  type Measurement,
  type StepPlan,
  type StepTiming,
} from './measure.js';
import type { BenchModelName } from './models.js';
import { benchLog, reportHead, type BenchReport } from './run.js';

export const PEER_TOOLS = ['torch'] as const;
export type PeerTool = (typeof PEER_TOOLS)[number];

/** Rounds unless --rounds says otherwise: a second round shows whether the ratio holds. */
export const DEFAULT_PEER_ROUNDS = 2;

/** Names the Python that runs PyTorch (scripts/gpu/device-check.sh reads it too). */
export const PYTHON_ENV = 'TEMPER_PYTHON';

/** The PyTorch side, shipped in the package (package.json "files"): from dist/src/bench/ up to the package root. */
export const TORCH_SCRIPT = fileURLToPath(new URL('../../../scripts/gpu/torch_reference.py', import.meta.url));

export const TORCH_INSTALL_HINT =
  "PyTorch is a benchmark tool, not a dependency of temper: install Debian's python3-torch (apt-get install python3-torch), " +
  `or set ${PYTHON_ENV} to a python3 that imports torch`;

/** A cold `import torch` takes seconds; two minutes means something is wrong. */
const IMPORT_TIMEOUT_MS = 120_000;

/**
 * The Pythons to try, in order: TEMPER_PYTHON alone when it is set; else python3 on the PATH, then Debian's
 * /usr/bin/python3, where python3-torch installs and which a pyenv or virtualenv python3 on the PATH hides.
 */
export function pythonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const chosen = env[PYTHON_ENV]?.trim();
  return chosen ? [chosen] : ['python3', '/usr/bin/python3'];
}

export interface TorchPython {
  python: string;
  torchVersion: string;
}

/** The first candidate Python that imports torch, or why none does (with what to install). */
export function findTorch(env: NodeJS.ProcessEnv = process.env): TorchPython | { error: string } {
  const failures: string[] = [];
  for (const python of pythonCandidates(env)) {
    const result = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: IMPORT_TIMEOUT_MS });
    if (result.status === 0) return { python, torchVersion: result.stdout.trim() };
    failures.push(whyNoTorch(python, result));
  }
  return { error: `--peer torch needs PyTorch, and ${failures.join('; ')}. ${TORCH_INSTALL_HINT}` };
}

function whyNoTorch(python: string, result: SpawnSyncReturns<string>): string {
  const named = python.includes('/') ? python : `${python} (on the PATH)`;
  const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return `${named} was not found`;
  if (code === 'ETIMEDOUT') return `${named} did not import torch within ${IMPORT_TIMEOUT_MS / 1000} s`;
  if (result.error) return `${named} did not start: ${firstLine(result.error)}`;
  const said = lastLine(result.stderr);
  return `${named} cannot import torch (${result.signal ?? `exit ${result.status}`}${said ? `: ${said}` : ''})`;
}

function lastLine(text: string | null | undefined): string {
  return (text ?? '').trim().split('\n').at(-1)?.trim() ?? '';
}

/** One measurement as torch_reference.py reports it: the timing fields of temper's Measurement. */
export interface TorchMeasurement extends StepTiming {
  model: string;
  what: string;
}

/** The parts of torch_reference.py's report read here. */
interface TorchReport {
  versions: { torch: string; blas?: string | null };
  device: string;
  measurements: TorchMeasurement[];
}

/** The same step as measureStep, in a PyTorch process of its own: same model, batch, seed, threads and timing rule. */
export function measureTorch(
  python: string,
  model: BenchModelName,
  what: BenchKind,
  plan: StepPlan,
  threads: number,
  seed: number,
): { measurement: TorchMeasurement; report: TorchReport | null } {
  const args = [
    TORCH_SCRIPT, '--device', 'cpu', '--model', model, '--what', what, '--batch', `${model}=${plan.batch}`,
    '--warmup', String(plan.warmupSteps), '--min-steps', String(plan.minSteps),
    '--min-seconds', String(plan.minSeconds), '--max-seconds', String(plan.maxSeconds),
    '--threads', String(threads), '--seed', String(seed),
  ];
  // stdout is the script's JSON; its stderr (progress, a traceback) only matters when no JSON came.
  const result = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  let report: TorchReport | null;
  try {
    report = JSON.parse(result.stdout) as TorchReport;
  } catch {
    report = null;
  }
  const m = report?.measurements[0];
  if (m) {
    const { batch, warmupSteps, steps, stepMs, msPerStep, imagesPerSecond, capped, error } = m;
    return { measurement: { model, what, batch, warmupSteps, steps, stepMs, msPerStep, imagesPerSecond, capped, error }, report };
  }
  const why = result.error ? firstLine(result.error) : `exited with ${result.signal ?? `code ${result.status}`}${lastLine(result.stderr) ? `: ${lastLine(result.stderr)}` : ''}`;
  return {
    measurement: { model, what, batch: plan.batch, warmupSteps: plan.warmupSteps, steps: 0, stepMs: [], msPerStep: null, imagesPerSecond: null, capped: false, error: `PyTorch process ${why}` },
    report: null,
  };
}

/** One round of one model and step: both measurements and temper's images/s over PyTorch's. */
export interface PeerRound {
  temper: Measurement;
  torch: TorchMeasurement;
  ratio: number | null;
}

export interface PeerRow {
  model: BenchModelName;
  what: BenchKind;
  batch: number;
  /** In the order they ran. */
  rounds: PeerRound[];
  /** Lowest and highest ratio over the rounds where both sides ran; null when none did. */
  ratioRange: { min: number; max: number } | null;
}

/** The JSON that `temper bench --peer torch --json` prints (documented in docs/benchmarks.md). */
export interface PeerReport extends Pick<BenchReport, 'date' | 'versions' | 'kernels' | 'host'> {
  settings: BenchReport['settings'] & { peer: PeerTool; rounds: number; threads: number };
  temper: { provider: string; providerVersion: string | null; device: string; projectKernels: string[] };
  torch: {
    python: string;
    script: string;
    version: string;
    /** As the script reports it, e.g. "cpu, 2 threads (x86_64)"; null until a measurement ran. */
    device: string | null;
    /** The BLAS library the PyTorch process mapped (Linux only): its matrix products are as fast as that library. */
    blas: string | null;
  };
  rows: PeerRow[];
  /** True when every measurement on both sides ran (exit 0). */
  complete: boolean;
}

/** temper's images/s over PyTorch's (above 1: temper is faster); null when either side failed. */
export function peerRatio(temper: { imagesPerSecond: number | null }, torch: { imagesPerSecond: number | null }): number | null {
  return temper.imagesPerSecond !== null && torch.imagesPerSecond !== null ? temper.imagesPerSecond / torch.imagesPerSecond : null;
}

/** A row from its rounds' measurement pairs, in order. */
export function peerRow(model: BenchModelName, what: BenchKind, batch: number, pairs: Array<{ temper: Measurement; torch: TorchMeasurement }>): PeerRow {
  const rounds = pairs.map(({ temper, torch }) => ({ temper, torch, ratio: peerRatio(temper, torch) }));
  const ratios = rounds.flatMap((round) => (round.ratio === null ? [] : [round.ratio]));
  return { model, what, batch, rounds, ratioRange: ratios.length > 0 ? { min: Math.min(...ratios), max: Math.max(...ratios) } : null };
}

/**
 * For each round, for each model and step: temper's step on wasm in this process, then PyTorch's in a process of its
 * own, with temper's plan (batch, warm-up, timing rule) and its wasm thread count.
 */
export async function runPeerBench(
  settings: BenchSettings,
  torch: TorchPython,
  options: { rounds: number; quiet?: boolean; log?: BenchLog },
): Promise<PeerReport> {
  const log = benchLog(options);
  const info = await initBackend('wasm');
  // The pool's real size: TEMPER_WASM_THREADS or the cores (at most 8), or 1 where the threaded build did not start.
  const threads = wasmThreadsInUse();
  const head = reportHead('wasm', settings);
  const report: PeerReport = {
    ...head,
    settings: { ...head.settings, peer: 'torch', rounds: options.rounds, threads },
    temper: { provider: info.provider, providerVersion: providerVersion(info), device: deviceOf(info), projectKernels: [...info.projectKernels] },
    torch: { python: torch.python, script: TORCH_SCRIPT, version: torch.torchVersion, device: null, blas: null },
    rows: [],
    complete: false,
  };
  log(`bench --peer torch: temper on wasm (${report.temper.device}) and PyTorch ${torch.torchVersion} (${torch.python}) on ${plural(threads, 'thread')} each`);
  const cells = settings.models.flatMap((model) =>
    settings.kinds.map((what) => ({ model, what, plan: planFor('wasm', model, settings), pairs: [] as Array<{ temper: Measurement; torch: TorchMeasurement }> })),
  );
  for (let round = 1; round <= options.rounds; round++) {
    for (const { model, what, plan, pairs } of cells) {
      const label = `bench --peer torch: round ${round}/${options.rounds}, ${model} ${what}, batch ${plan.batch}`;
      log(`${label}: temper...`);
      const temper = await measureStep(model, what, plan, settings.seed);
      log(`${label}: temper ${describeMeasurement(temper)}; PyTorch...`);
      const { measurement, report: torchReport } = measureTorch(torch.python, model, what, plan, threads, settings.seed);
      report.torch.device ??= torchReport?.device ?? null;
      report.torch.blas ??= torchReport?.versions.blas ?? null;
      log(`${label}: PyTorch ${describeMeasurement(measurement)}`);
      pairs.push({ temper, torch: measurement });
    }
  }
  report.rows = cells.map(({ model, what, plan, pairs }) => peerRow(model, what, plan.batch, pairs));
  report.complete = report.rows.every((row) => row.rounds.every((round) => round.temper.error === null && round.torch.error === null));
  return report;
}

/** Ratios for people: two significant digits (0.52, 1.3), one decimal from 10 on. */
export function formatRatio(ratio: number): string {
  return ratio >= 10 ? ratio.toFixed(1) : ratio.toPrecision(2);
}

/** The report as a table, one row per model and step, each round's figure side by side; a header and notes around it. */
export function formatPeer(report: PeerReport): string {
  const { settings, host, temper, torch } = report;
  const kernels = report.kernels.project ? 'project kernels on' : 'project kernels off (TEMPER_STOCK_KERNELS=1)';
  const lines = [
    `temper ${report.versions['temper']} on wasm (${temper.device}; ${kernels}) vs PyTorch ${torch.version} on ${torch.device ?? 'the CPU'}; ${report.date}`,
    `host: ${host.cpus} x ${host.cpuModel}, load average ${host.loadAverage.map((x) => x.toFixed(2)).join(' ')}; PyTorch from ${torch.python}, BLAS ${torch.blas ?? 'unknown'}`,
    `method: ${plural(settings.rounds, 'round')}, in each every model and step timed by temper, then by PyTorch: same batch, ${plural(settings.threads, 'thread')}, ` +
      `warm-up and timing rule (>= min steps and >= ${settings.minSeconds} s, at most ${settings.maxSeconds} s), median step time; one figure per round, in order. ` +
      'Compare ratios within a run; absolute images/s differ by about 30% between machines',
    '',
  ];
  const rows: string[][] = [['model', 'step', 'batch', 'temper images/s', 'PyTorch images/s', 'temper/PyTorch', 'range']];
  const notes: string[] = [];
  const rate = (m: { imagesPerSecond: number | null }) => (m.imagesPerSecond === null ? 'failed' : formatRate(m.imagesPerSecond));
  for (const row of report.rows) {
    const range = row.ratioRange && (row.ratioRange.min === row.ratioRange.max ? formatRatio(row.ratioRange.min) : `${formatRatio(row.ratioRange.min)}-${formatRatio(row.ratioRange.max)}`);
    rows.push([
      row.model,
      row.what,
      String(row.batch),
      row.rounds.map((round) => rate(round.temper)).join(' '),
      row.rounds.map((round) => rate(round.torch)).join(' '),
      row.rounds.map((round) => (round.ratio === null ? '-' : formatRatio(round.ratio))).join(' '),
      range ?? '-',
    ]);
    row.rounds.forEach((round, i) => notes.push(...roundNotes(`round ${i + 1}, ${row.model} ${row.what}`, round)));
  }
  lines.push(...alignColumns(rows, new Set([2])), '', ...notes);
  return lines.join('\n');
}

/** What to know about one round: a failure, a capped measurement, temper's tensor growth. */
function roundNotes(label: string, round: PeerRound): string[] {
  const notes: string[] = [];
  for (const [side, m] of [['temper', round.temper], ['PyTorch', round.torch]] as const) {
    if (m.error !== null) notes.push(`${label}: ${side} failed: ${m.error}`);
    else if (m.capped) notes.push(`${label}: ${side} stopped at --max-seconds after ${plural(m.steps, 'timed step')}`);
  }
  const { before, after } = round.temper.memory;
  if (before && after && after.numTensors !== before.numTensors) {
    // Without warm-up, `before` precedes the first step, which creates adam's slots: growth is then expected.
    const why = round.temper.warmupSteps === 0 ? 'no warm-up, so this includes state the first step creates' : 'a leak';
    notes.push(`${label}: temper's tensors changed by ${after.numTensors - before.numTensors} over ${plural(round.temper.steps, 'timed step')} (${why})`);
  }
  return notes;
}
