/** A plain-text table of the given columns, for the operator CLI. */
export function formatTable<T extends object>(rows: readonly T[], columns: ReadonlyArray<keyof T & string>): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((c) => cell((row as Record<string, unknown>)[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (values: readonly string[]) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  // One line per row, and no terminal control characters from stored values.
  return text.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 80);
}
