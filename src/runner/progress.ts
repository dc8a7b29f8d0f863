// How a sweep reports itself: bars on a terminal, one line per event in logs, nothing with --quiet.
import cliProgress from 'cli-progress';
import type { Job, RunRecord, AttackResult } from '../types.js';
import { plural } from '../util/text.js';

export interface ProgressSink {
  sweepStart(info: { total: number; toRun: number; skipped: number; outDir: string; backend: string }): void;
  jobStart(job: Job, position: number, toRun: number): void;
  step(info: { epoch: number; epochs: number; step: number; steps: number; loss: number }): void;
  epoch(info: { epoch: number; epochs: number; meanLoss: number }): void;
  attack(info: { label: string; index: number; total: number }): void;
  attackResult(result: AttackResult): void;
  jobEnd(record: RunRecord): void;
  message(text: string): void;
  sweepEnd(): void;
}

export function jobName(job: Job): string {
  return `${job.dataset} ${job.architecture} T=${job.temperature} seed=${job.seed}`;
}

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

/** One line per event, for CI logs and pipes. */
export class LineProgress implements ProgressSink {
  constructor(private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {}
  private current = '';
  sweepStart({ total, toRun, skipped, outDir, backend }: { total: number; toRun: number; skipped: number; outDir: string; backend: string }) {
    this.write(`sweep: ${plural(total, 'job')}, ${toRun} to run, ${skipped} already done; backend ${backend}; writing to ${outDir}`);
  }
  jobStart(job: Job, position: number, toRun: number) {
    this.current = `[${position}/${toRun}] ${jobName(job)}`;
    this.write(`${this.current}: training (${plural(job.training.epochs, 'epoch')})`);
  }
  step() {}
  epoch({ epoch, epochs, meanLoss }: { epoch: number; epochs: number; meanLoss: number }) {
    this.write(`${this.current}: epoch ${epoch}/${epochs} loss ${meanLoss.toFixed(4)}`);
  }
  attack() {}
  attackResult(result: AttackResult) {
    const zero = result.zeroGradFraction === null ? '' : `, zero gradients ${percent(result.zeroGradFraction)}`;
    this.write(`${this.current}: ${result.label} accuracy ${percent(result.robustAccuracy)}${zero} (${result.wallSeconds.toFixed(1)} s)`);
  }
  jobEnd(record: RunRecord) {
    if (record.status === 'ok') {
      this.write(`${this.current}: done, clean accuracy ${percent(record.cleanAccuracy ?? 0)} in ${record.timings.wallSeconds.toFixed(1)} s (run ${record.runId})`);
    } else {
      this.write(`${this.current}: FAILED: ${record.failureReason} (run ${record.runId})`);
    }
  }
  message(text: string) {
    this.write(text);
  }
  sweepEnd() {}
}

/** A sweep bar and a job bar (epoch, loss, attack) on an interactive terminal. */
export class BarProgress implements ProgressSink {
  private readonly bars = new cliProgress.MultiBar(
    { clearOnComplete: false, hideCursor: true, stream: process.stderr, format: '{label} |{bar}| {value}/{total} {detail}', barsize: 24, autopadding: true },
    cliProgress.Presets.shades_classic,
  );
  private sweepBar?: cliProgress.SingleBar;
  private jobBar?: cliProgress.SingleBar;
  private name = '';
  private done = 0;

  // cli-progress clears only the first line it prints logs over; erase each line's tail ourselves.
  private log(text: string) {
    this.bars.log(`${text}\x1b[K\n`);
  }

  sweepStart({ total, toRun, skipped, outDir, backend }: { total: number; toRun: number; skipped: number; outDir: string; backend: string }) {
    this.log(`sweep: ${plural(total, 'job')}, ${toRun} to run, ${skipped} already done; backend ${backend}; writing to ${outDir}`);
    this.sweepBar = this.bars.create(toRun, 0, { label: 'sweep', detail: 'jobs' });
    // One job bar reused by every job: removing and re-creating bars leaves stale lines behind.
    this.jobBar = this.bars.create(1, 0, { label: 'job  ', detail: '' });
  }
  jobStart(job: Job) {
    this.name = jobName(job);
    this.jobBar?.setTotal(job.training.epochs);
    this.jobBar?.update(0, { detail: `${this.name} | training` });
  }
  step({ epoch, epochs, step, steps, loss }: { epoch: number; epochs: number; step: number; steps: number; loss: number }) {
    this.jobBar?.setTotal(epochs * steps);
    this.jobBar?.update((epoch - 1) * steps + step, { detail: `${this.name} | epoch ${epoch}/${epochs} | loss ${loss.toFixed(4)}` });
  }
  epoch() {}
  attack({ label, index, total }: { label: string; index: number; total: number }) {
    this.jobBar?.setTotal(total);
    this.jobBar?.update(index, { detail: `${this.name} | attack ${label}` });
  }
  attackResult(result: AttackResult) {
    this.log(`  ${this.name}: ${result.label} ${percent(result.robustAccuracy)}`);
  }
  jobEnd(record: RunRecord) {
    this.done += 1;
    this.jobBar?.update(this.jobBar.getTotal());
    const line = record.status === 'ok'
      ? `${this.name}: clean ${percent(record.cleanAccuracy ?? 0)} (${record.timings.wallSeconds.toFixed(1)} s)`
      : `${this.name}: FAILED: ${record.failureReason}`;
    this.log(`${line}`);
    this.sweepBar?.update(this.done);
  }
  message(text: string) {
    this.log(`${text}`);
  }
  sweepEnd() {
    // Flush log lines still buffered by cli-progress before the bars stop redrawing.
    this.bars.update();
    this.bars.stop();
  }
}

export class QuietProgress implements ProgressSink {
  sweepStart() {}
  jobStart() {}
  step() {}
  epoch() {}
  attack() {}
  attackResult() {}
  jobEnd() {}
  message() {}
  sweepEnd() {}
}

export function progressFor(options: { quiet: boolean }): ProgressSink {
  if (options.quiet) return new QuietProgress();
  return process.stderr.isTTY ? new BarProgress() : new LineProgress();
}
