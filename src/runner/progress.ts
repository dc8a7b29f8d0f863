// How a sweep reports itself: bars on a terminal, one line per event in logs, nothing with --quiet.
import type { Job, RunRecord, AttackResult } from '../types.js';
import type { AttackProgress } from '../eval/evaluate.js';
import { LiveLines, type TerminalStream } from './live-lines.js';
import { plural } from '../util/text.js';
import { describeSweepPoint } from '../config/sweep.js';

export interface ProgressSink {
  sweepStart(info: { total: number; toRun: number; skipped: number; outDir: string; backend: string }): void;
  jobStart(job: Job, position: number, toRun: number): void;
  step(info: { epoch: number; epochs: number; step: number; steps: number; loss: number }): void;
  epoch(info: { epoch: number; epochs: number; meanLoss: number }): void;
  /** An evaluation row (an attack at one eps, or a corruption at one severity) starts: the `index`-th of `total`, from 0. */
  attack(info: { label: string; kind?: 'attack' | 'corruption'; index: number; total: number }): void;
  /** Within the current row: batches finished, and what the attack last said it is doing (see `AttackRun.progress`). */
  attackProgress(info: AttackProgress): void;
  attackResult(result: AttackResult): void;
  /** A job finished, here or (with `origin`, e.g. "worker 2") in a `--jobs` worker process. */
  jobEnd(record: RunRecord, origin?: string): void;
  message(text: string): void;
  sweepEnd(): void;
}

export function jobName(job: Job): string {
  const sweep = job.sweep && Object.keys(job.sweep).length > 0 ? ` ${describeSweepPoint(job.sweep)}` : '';
  return `${job.dataset} ${job.architecture}${sweep} T=${job.temperature} seed=${job.seed}`;
}

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

/** "42s", "3m 05s", "2h 07m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Seconds left when `fraction` of a task took `elapsedSeconds`, assuming the same pace; undefined until it means something. */
export function etaSeconds(fraction: number, elapsedSeconds: number): number | undefined {
  if (!(fraction > 0) || fraction >= 1 || elapsedSeconds < 1) return undefined;
  return (elapsedSeconds * (1 - fraction)) / fraction;
}

/** `|████░░░░|` of `width` cells, filled to `fraction`. */
export function barCells(fraction: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `|${'█'.repeat(filled)}${'░'.repeat(width - filled)}|`;
}

function outcome(record: RunRecord): string {
  return record.status === 'ok'
    ? `done, clean accuracy ${percent(record.cleanAccuracy ?? 0)} in ${record.timings.wallSeconds.toFixed(1)} s (run ${record.runId})`
    : `FAILED: ${record.failureReason} (run ${record.runId})`;
}

/** One line per event, for CI logs and pipes; within a long epoch or attack, at most one line every `intervalSeconds`. */
export class LineProgress implements ProgressSink {
  private current = '';
  private row = '';
  private lastLineAt = 0;
  private readonly intervalSeconds: number;
  private readonly now: () => number;

  constructor(
    private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
    options: { intervalSeconds?: number; now?: () => number } = {},
  ) {
    this.intervalSeconds = options.intervalSeconds ?? 30;
    this.now = options.now ?? (() => performance.now());
  }

  sweepStart({ total, toRun, skipped, outDir, backend }: { total: number; toRun: number; skipped: number; outDir: string; backend: string }) {
    this.write(`sweep: ${plural(total, 'job')}, ${toRun} to run, ${skipped} already done; backend ${backend}; writing to ${outDir}`);
  }
  jobStart(job: Job, position: number, toRun: number) {
    this.current = `[${position}/${toRun}] ${jobName(job)}`;
    this.write(`${this.current}: training (${plural(job.training.epochs, 'epoch')})`);
    this.lastLineAt = this.now();
  }
  step({ epoch, epochs, step, steps, loss }: { epoch: number; epochs: number; step: number; steps: number; loss: number }) {
    if (this.now() - this.lastLineAt < this.intervalSeconds * 1000) return;
    this.lastLineAt = this.now();
    this.write(`${this.current}: epoch ${epoch}/${epochs} step ${step}/${steps} loss ${loss.toFixed(4)}`);
  }
  epoch({ epoch, epochs, meanLoss }: { epoch: number; epochs: number; meanLoss: number }) {
    this.write(`${this.current}: epoch ${epoch}/${epochs} loss ${meanLoss.toFixed(4)}`);
    this.lastLineAt = this.now();
  }
  attack({ label }: { label: string; kind?: 'attack' | 'corruption'; index: number; total: number }) {
    this.row = label;
    this.lastLineAt = this.now();
  }
  attackProgress({ batch, batches, detail }: AttackProgress) {
    if (this.now() - this.lastLineAt < this.intervalSeconds * 1000) return;
    this.lastLineAt = this.now();
    this.write(`${this.current}: ${this.row}: batch ${Math.min(batch + 1, batches)}/${batches}${detail ? `, ${detail}` : ''}`);
  }
  attackResult(result: AttackResult) {
    const zero = result.zeroGradFraction === null ? '' : `, zero gradients ${percent(result.zeroGradFraction)}`;
    this.write(`${this.current}: ${result.label} accuracy ${percent(result.robustAccuracy)}${zero} (${result.wallSeconds.toFixed(1)} s)`);
  }
  jobEnd(record: RunRecord, origin?: string) {
    this.write(`${origin === undefined ? this.current : `${origin}: ${jobName(record.job)}`}: ${outcome(record)}`);
  }
  message(text: string) {
    this.write(text);
  }
  sweepEnd() {}
}

type JobActivity =
  | { kind: 'note'; text: string; fraction: number }
  | { kind: 'training'; epoch: number; epochs: number; step: number; steps: number; lossSum: number; lossSteps: number }
  | { kind: 'attack'; row: 'attack' | 'corruption'; label: string; index: number; total: number; batch: number; batches: number; detail: string | undefined };

/** How much of the job's current phase is done, in [0, 1]: training steps, or evaluation rows and their batches. */
function activityFraction(activity: JobActivity): number {
  switch (activity.kind) {
    case 'note':
      return activity.fraction;
    case 'training':
      return ((activity.epoch - 1) * activity.steps + activity.step) / (activity.epochs * activity.steps);
    case 'attack':
      return (activity.index + activity.batch / activity.batches) / activity.total;
  }
}

// Drawn by LiveLines, not cli-progress: MultiBar turns line wrapping off (cutting logs at the width), skips redrawing
// unchanged bars after a log (leaving stale lines) and draws only on a timer, which never fires during a synchronous attack.
/**
 * A sweep bar (jobs done by every process, elapsed, ETA, the job this process runs) and a job bar (epoch, step and loss
 * while training; then each attack with its label, batch, ETA and the attack's own detail) at the bottom of a terminal,
 * with log lines above them in full.
 */
export class BarProgress implements ProgressSink {
  private readonly lines: LiveLines;
  private readonly now: () => number;
  private toRun = 0;
  private done = 0;
  private sweepStartedAt = 0;
  private name = '';
  private position = '';
  /** Between this process's jobStart and jobEnd. */
  private running = false;
  private activity: JobActivity = { kind: 'note', text: 'waiting', fraction: 0 };
  /** When the current phase (the job's start, then each evaluation row) began, for its ETA. */
  private phaseStartedAt = 0;
  /** Set by sweepEnd: the last frame shows no clocks. */
  private ended = false;

  constructor(stream: TerminalStream = process.stderr, options: { now?: () => number; minIntervalMs?: number } = {}) {
    this.now = options.now ?? (() => performance.now());
    this.lines = new LiveLines(stream, () => this.frame(stream.columns ?? 80), {
      now: this.now,
      ...(options.minIntervalMs !== undefined ? { minIntervalMs: options.minIntervalMs } : {}),
    });
  }

  sweepStart({ total, toRun, skipped, outDir, backend }: { total: number; toRun: number; skipped: number; outDir: string; backend: string }) {
    this.lines.log(`sweep: ${plural(total, 'job')}, ${toRun} to run, ${skipped} already done; backend ${backend}; writing to ${outDir}`);
    this.toRun = toRun;
    this.sweepStartedAt = this.now();
    if (toRun > 0) this.lines.start();
  }
  jobStart(job: Job, position: number, toRun: number) {
    this.name = jobName(job);
    this.position = `${position}/${toRun}`;
    this.running = true;
    this.setActivity({ kind: 'note', text: 'starting', fraction: 0 });
  }
  step({ epoch, epochs, step, steps, loss }: { epoch: number; epochs: number; step: number; steps: number; loss: number }) {
    const previous = this.activity.kind === 'training' ? this.activity : undefined;
    const sameEpoch = previous?.epoch === epoch;
    // The mean loss of the epoch so far: one step's loss jumps about too much to read.
    this.activity = { kind: 'training', epoch, epochs, step, steps, lossSum: (sameEpoch ? previous.lossSum : 0) + loss, lossSteps: (sameEpoch ? previous.lossSteps : 0) + 1 };
    this.lines.update();
  }
  epoch() {}
  attack({ label, kind, index, total }: { label: string; kind?: 'attack' | 'corruption'; index: number; total: number }) {
    this.setActivity({ kind: 'attack', row: kind ?? 'attack', label, index, total, batch: 0, batches: 1, detail: undefined });
  }
  attackProgress({ batch, batches, detail }: AttackProgress) {
    if (this.activity.kind !== 'attack') return;
    // A new batch starts without a detail of its own: the previous batch's would be stale.
    this.activity = { ...this.activity, batch, batches, detail: detail ?? (batch === this.activity.batch ? this.activity.detail : undefined) };
    this.lines.update();
  }
  attackResult(result: AttackResult) {
    this.lines.log(`  ${this.name}: ${result.label} ${percent(result.robustAccuracy)} (${result.wallSeconds.toFixed(1)} s)`);
  }
  jobEnd(record: RunRecord, origin?: string) {
    this.done += 1;
    if (origin === undefined) {
      this.running = false;
      this.activity = { kind: 'note', text: `${record.status === 'ok' ? 'done' : 'FAILED'}: ${this.name}`, fraction: 1 };
    }
    this.lines.log(`${origin === undefined ? '' : `${origin}: `}${jobName(record.job)}: ${outcome(record)}`);
  }
  message(text: string) {
    this.lines.log(text);
  }
  sweepEnd() {
    // Stopped mid-job (Ctrl-C): the last frame says where.
    const { activity } = this;
    const where = activity.kind === 'training' ? `training epoch ${activity.epoch}/${activity.epochs}` : activity.kind === 'attack' ? `${activity.row} ${activity.label}` : undefined;
    if (where !== undefined) this.activity = { kind: 'note', text: `stopped in ${where}: ${this.name}`, fraction: activityFraction(activity) };
    this.ended = true;
    this.running = false;
    this.lines.stop();
  }

  private setActivity(activity: JobActivity) {
    this.activity = activity;
    this.phaseStartedAt = this.now();
    this.lines.update();
  }

  /** The two status lines at this moment, for a terminal `columns` wide (LiveLines cuts them to fit). */
  private frame(columns: number): string[] {
    // Narrow bars leave the width to the words; the attack's detail comes last and is what gets cut on a narrow terminal.
    const cells = columns >= 100 ? 20 : 10;
    const seconds = (since: number) => (this.now() - since) / 1000;
    const eta = (fraction: number, since: number) => {
      const left = this.ended ? undefined : etaSeconds(fraction, seconds(since));
      return left === undefined ? [] : [`ETA ${formatDuration(left)}`];
    };

    const sweepFraction = this.toRun === 0 ? 1 : this.done / this.toRun;
    const sweepParts = [`${this.done}/${this.toRun} jobs`, formatDuration(seconds(this.sweepStartedAt)), ...eta(sweepFraction, this.sweepStartedAt)];
    if (this.running) sweepParts.push(`now ${this.position} ${this.name}`);

    const activity = this.activity;
    const fraction = activityFraction(activity);
    let parts: string[];
    switch (activity.kind) {
      case 'note':
        parts = [activity.text];
        break;
      case 'training': {
        const loss = (activity.lossSum / activity.lossSteps).toFixed(4);
        parts = [`training epoch ${activity.epoch}/${activity.epochs}`, `step ${activity.step}/${activity.steps}`, `loss ${loss}`, ...eta(fraction, this.phaseStartedAt)];
        break;
      }
      case 'attack': {
        const batches = activity.batches > 1 ? [`batch ${Math.min(activity.batch + 1, activity.batches)}/${activity.batches}`] : [];
        const detail = activity.detail !== undefined ? [activity.detail] : [];
        // The attack's own detail last: it is free text of any length, and the ETA should not be cut off by it.
        parts = [`${activity.row} ${activity.label} (${activity.index + 1}/${activity.total})`, ...batches, ...eta(activity.batch / activity.batches, this.phaseStartedAt), ...detail];
        break;
      }
    }
    return [`sweep ${barCells(sweepFraction, cells)} ${sweepParts.join(' · ')}`, `job   ${barCells(fraction, cells)} ${parts.join(' · ')}`];
  }
}

export class QuietProgress implements ProgressSink {
  sweepStart() {}
  jobStart() {}
  step() {}
  epoch() {}
  attack() {}
  attackProgress() {}
  attackResult() {}
  jobEnd() {}
  message() {}
  sweepEnd() {}
}

export function progressFor(options: { quiet: boolean }): ProgressSink {
  if (options.quiet) return new QuietProgress();
  return process.stderr.isTTY ? new BarProgress() : new LineProgress();
}
