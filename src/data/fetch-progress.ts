// How `temper data fetch` shows a download: a bar on a terminal, a line every few seconds in logs;
// the verification line of each file is the command's result and goes to stdout (see cli/commands/data.ts).
import cliProgress from 'cli-progress';
import type { FetchEvent, FetchedFile } from './fetch.js';

const LINE_SECONDS = 5;
const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);

/** The line that says what was checked, and says so plainly where a checksum could not be. */
export function verificationLine(result: FetchedFile): string {
  const what = result.alreadyPresent ? 'already there' : result.resumedFrom > 0 ? `downloaded (resumed at ${result.resumedFrom} bytes)` : 'downloaded';
  const checks = result.sha256Verified
    ? `SHA-256 ${result.sha256} verified`
    : `SHA-256 ${result.sha256} NOT verified (no published SHA-256 for this file)${result.md5Verified ? '; size and published MD5 matched' : result.file.bytes !== undefined ? '; size matched' : ''}`;
  return `${result.path}: ${what}, ${megabytes(result.bytes)} MB, ${checks}`;
}

export interface FetchProgressPrinter {
  onProgress(event: FetchEvent): void;
  /** Stops a bar left running by a failed download. */
  stop(): void;
}

export function fetchProgressPrinter(stream: NodeJS.WriteStream = process.stderr): FetchProgressPrinter {
  return stream.isTTY ? new BarPrinter(stream) : new LinePrinter(stream);
}

class BarPrinter implements FetchProgressPrinter {
  private bar?: cliProgress.SingleBar;
  constructor(private readonly stream: NodeJS.WriteStream) {}

  onProgress(event: FetchEvent) {
    if (event.kind === 'start') {
      this.bar = new cliProgress.SingleBar(
        { stream: this.stream, format: '{file} |{bar}| {percentage}% {mb}/{totalMb} MB', barsize: 30, hideCursor: false },
        cliProgress.Presets.shades_classic,
      );
      const total = event.totalBytes ?? event.resumedFrom;
      this.bar.start(total, event.resumedFrom, { file: event.file.name, mb: megabytes(event.resumedFrom), totalMb: event.totalBytes === undefined ? '?' : megabytes(total) });
    } else if (event.kind === 'progress' && this.bar) {
      if (event.totalBytes === undefined) this.bar.setTotal(event.receivedBytes);
      this.bar.update(event.receivedBytes, { mb: megabytes(event.receivedBytes) });
    } else if (event.kind === 'done') {
      this.stop();
    }
  }

  stop() {
    this.bar?.stop();
    this.bar = undefined;
  }
}

class LinePrinter implements FetchProgressPrinter {
  private lastLine = 0;
  constructor(private readonly stream: NodeJS.WriteStream) {}

  onProgress(event: FetchEvent) {
    if (event.kind === 'start') {
      const size = event.totalBytes === undefined ? '' : ` (${megabytes(event.totalBytes)} MB)`;
      const resume = event.resumedFrom > 0 ? `, resuming at ${megabytes(event.resumedFrom)} MB` : '';
      this.stream.write(`downloading ${event.url}${size}${resume}\n`);
      this.lastLine = Date.now();
    } else if (event.kind === 'progress' && Date.now() - this.lastLine >= LINE_SECONDS * 1000) {
      this.lastLine = Date.now();
      const percent = event.totalBytes ? ` (${Math.floor((100 * event.receivedBytes) / event.totalBytes)}%)` : '';
      this.stream.write(`  ${event.file.name}: ${megabytes(event.receivedBytes)} MB${percent}\n`);
    }
  }

  stop() {}
}
