// Small text helpers for what temper prints: counts with the right noun, and columns sized to their content.

/** "1 job", "3 jobs", "0 jobs"; `many` for nouns that do not just take an "s" ("1 process", "2 processes"). */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** Pads every column but the last to its widest cell, two spaces apart; `right` columns are right-aligned (numbers). */
export function alignColumns(rows: readonly string[][], right: ReadonlySet<number> = new Set()): string[] {
  const columns = Math.max(0, ...rows.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (right.has(column) ? cell.padStart(widths[column]!) : column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd(),
  );
}
