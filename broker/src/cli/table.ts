// Human-readable output of the CLI: aligned columns, as kafka-topics.sh and kubectl print them.

export type Cell = string | number | null | undefined;

/** Lines of a table: the header, then one line a row; columns separated by two spaces. */
export function table(header: string[], rows: Cell[][]): string[] {
  const text = rows.map((row) =>
    row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))),
  );
  const widths = header.map((h, i) =>
    Math.max(h.length, ...text.map((row) => row[i]?.length ?? 0)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...text.map(line)];
}

/** "name: value" lines with the values aligned. */
export function fields(entries: [string, Cell][]): string[] {
  const width = Math.max(...entries.map(([name]) => name.length + 1));
  return entries.map(([name, value]) =>
    `${`${name}:`.padEnd(width)} ${value === null || value === undefined ? '-' : value}`.trimEnd(),
  );
}

export function printJson(out: (line: string) => void, value: unknown): void {
  out(JSON.stringify(value, null, 2));
}
