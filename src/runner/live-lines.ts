// A few status lines kept at the bottom of a terminal, with log lines printed in full above them. Each frame is one
// write: move up over the last frame, clear to the end of the screen, write the log text (the terminal wraps it), then
// the status lines, each cut to the width so that it takes exactly one row, and a newline. The cursor waits on the empty
// row below the lines, where a stray write or the terminal's own "^C" echo lands without shifting what is counted.

/** What the renderer needs of a terminal stream (process.stderr on a TTY). */
export interface TerminalStream {
  write(text: string): unknown;
  columns?: number;
  on?(event: 'resize', listener: () => void): unknown;
  off?(event: 'resize', listener: () => void): unknown;
}

export interface LiveLinesOptions {
  /** Fewest milliseconds between two redraws caused by updates (log lines always draw at once). */
  minIntervalMs?: number;
  /** Redraw this often even without updates, so clocks (elapsed, ETA) move while the event loop is free. */
  tickMs?: number;
  /** Current time in milliseconds (tests pass a fake clock). */
  now?: () => number;
}

const ESC = '\x1b[';
const HIDE_CURSOR = `${ESC}?25l`;
const SHOW_CURSOR = `${ESC}?25h`;

/** `text` cut to `width` characters (code points), with an ellipsis when something was cut. */
export function fitWidth(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  return width <= 1 ? chars.slice(0, Math.max(0, width)).join('') : `${chars.slice(0, width - 1).join('')}…`;
}

export class LiveLines {
  /** Rows the last frame's status lines took (the cursor sits on the row below them). */
  private drawnRows = 0;
  private lastDrawAt = -Infinity;
  private pending?: NodeJS.Timeout;
  private ticker?: NodeJS.Timeout;
  private active = false;
  private readonly minIntervalMs: number;
  private readonly tickMs: number;
  private readonly now: () => number;
  // Shows the cursor again however the process ends (process.exit on a second Ctrl-C, an uncaught error).
  private readonly onExit = () => this.stream.write(SHOW_CURSOR);
  private readonly onResize = () => this.draw();

  constructor(
    private readonly stream: TerminalStream,
    /** The status lines as they should look now; called at each redraw. */
    private readonly frame: () => string[],
    options: LiveLinesOptions = {},
  ) {
    this.minIntervalMs = options.minIntervalMs ?? 100;
    this.tickMs = options.tickMs ?? 1000;
    this.now = options.now ?? (() => performance.now());
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.stream.write(HIDE_CURSOR);
    process.on('exit', this.onExit);
    this.stream.on?.('resize', this.onResize);
    this.ticker = setInterval(() => this.draw(), this.tickMs).unref();
    this.draw();
  }

  /** The state behind the lines changed: redraw now, or as soon as `minIntervalMs` has passed since the last redraw. */
  update(): void {
    if (!this.active) return;
    const wait = this.lastDrawAt + this.minIntervalMs - this.now();
    if (wait <= 0) {
      this.draw();
    } else if (!this.pending) {
      this.pending = setTimeout(() => this.draw(), wait).unref();
    }
  }

  /** Prints `text` (any length, any number of lines) above the status lines, which are redrawn below it. */
  log(text: string): void {
    const body = text.endsWith('\n') ? text : `${text}\n`;
    if (!this.active) {
      this.stream.write(body);
      return;
    }
    this.draw(body);
  }

  /** Draws the lines a last time and leaves them on screen, with the cursor shown on the row below. */
  stop(): void {
    if (!this.active) return;
    this.draw();
    this.active = false;
    clearInterval(this.ticker);
    clearTimeout(this.pending);
    this.pending = undefined;
    this.stream.off?.('resize', this.onResize);
    process.off('exit', this.onExit);
    this.stream.write(SHOW_CURSOR);
    this.drawnRows = 0;
  }

  private draw(logText = ''): void {
    if (!this.active) return;
    clearTimeout(this.pending);
    this.pending = undefined;
    // One column short of the width: a line that fills the row would leave some terminals waiting to wrap.
    const width = Math.max(1, (this.stream.columns ?? 80) - 1);
    const lines = this.frame().map((line) => fitWidth(line, width));
    const up = this.drawnRows > 0 ? `${ESC}${this.drawnRows}A` : '';
    this.stream.write(`${up}\r${ESC}J${logText}${lines.map((line) => `${line}\n`).join('')}`);
    this.drawnRows = lines.length;
    this.lastDrawAt = this.now();
  }
}
