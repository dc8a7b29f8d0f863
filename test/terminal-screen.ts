// A small terminal emulator for the escape sequences the progress renderer writes, so its tests can look at the screen
// a person would see: autowrap at the width, "\n" as CR LF (a TTY's onlcr), cursor up, erase, cursor show/hide.
// Any other escape sequence fails the test: the renderer must not rely on more than this.

export class TerminalScreen {
  /** Rows from the first ever written (no scrolling: the scrollback is kept as rows). */
  private rows: string[][] = [[]];
  /** Rows that continue onto the next one because the terminal wrapped them. */
  private wrapped = new Set<number>();
  private row = 0;
  private column = 0;
  private pendingWrap = false;
  cursorVisible = true;
  readonly writes: string[] = [];

  constructor(readonly columns: number) {}

  /** The stream the renderer writes to. */
  get stream() {
    return { columns: this.columns, write: (text: string) => this.write(text) };
  }

  write(text: string): boolean {
    this.writes.push(text);
    for (let i = 0; i < text.length; i++) {
      const char = text[i]!;
      if (char === '\x1b') {
        const match = /^\x1b\[(\?25[lh]|\d*A|J|K)/.exec(text.slice(i));
        if (!match) throw new Error(`unexpected escape sequence ${JSON.stringify(text.slice(i, i + 8))}`);
        this.escape(match[1]!);
        i += match[0].length - 1;
      } else if (char === '\n') {
        this.lineFeed(false);
        this.column = 0;
      } else if (char === '\r') {
        this.column = 0;
        this.pendingWrap = false;
      } else {
        this.print(char);
      }
    }
    return true;
  }

  /** Every row as a person sees it, trailing blanks trimmed. */
  get screenRows(): string[] {
    return this.rows.map((cells) => cells.join('').trimEnd());
  }

  /** Logical lines: rows the terminal wrapped joined back together (what `tmux capture-pane -J` shows). */
  get lines(): string[] {
    const lines: string[] = [];
    let current = '';
    this.rows.forEach((cells, index) => {
      current += cells.join('');
      if (!this.wrapped.has(index)) {
        lines.push(current.trimEnd());
        current = '';
      }
    });
    return lines;
  }

  /** Row the cursor is on, counted like `screenRows`. */
  get cursorRow(): number {
    return this.row;
  }

  private escape(code: string) {
    this.pendingWrap = false;
    if (code === '?25l') this.cursorVisible = false;
    else if (code === '?25h') this.cursorVisible = true;
    else if (code.endsWith('A')) this.row = Math.max(0, this.row - Number(code.slice(0, -1) || '1'));
    else if (code === 'J') {
      this.rows[this.row] = (this.rows[this.row] ?? []).slice(0, this.column);
      this.rows.length = this.row + 1;
      for (const index of [...this.wrapped]) if (index >= this.row) this.wrapped.delete(index);
    } else if (code === 'K') {
      this.rows[this.row] = (this.rows[this.row] ?? []).slice(0, this.column);
    }
  }

  private print(char: string) {
    if (this.pendingWrap) {
      this.wrapped.add(this.row);
      this.lineFeed(true);
      this.column = 0;
    }
    const cells = (this.rows[this.row] ??= []);
    while (cells.length < this.column) cells.push(' ');
    cells[this.column] = char;
    if (this.column === this.columns - 1) this.pendingWrap = true;
    else this.column += 1;
  }

  private lineFeed(wrapping: boolean) {
    if (!wrapping) this.pendingWrap = false;
    this.row += 1;
    this.rows[this.row] ??= [];
  }
}
