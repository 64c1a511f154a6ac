/**
 * A plain aligned table: a header row, a rule, then the rows; numeric-looking cells align right.
 * Kept to plain text (no box drawing, no colour) so it pipes into `grep`, `awk` and logs.
 *
 * @example
 * ```ts
 * process.stdout.write(table(['key', 'ttl'], [['character:1', '5m']]));
 * ```
 */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((name, i) => Math.max(name.length, ...rows.map((row) => (row[i] ?? '').length)));
  const numeric = header.map((_name, i) => rows.length > 0 && rows.every((row) => /^[-\d.,]+( ?[a-zA-Z%]+)?$/.test(row[i] ?? '')));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')}\n`;
}

/** `1536` → `1.5 KB`. @example formatBytes(2048) // '2.0 KB' */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Milliseconds as a short duration; negative values (no TTL) as `none`. @example formatMs(90_000) // '1m30s' */
export function formatMs(ms: number): string {
  if (ms < 0) return 'none';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? `${Math.floor((s % 86400) / 3600)}h` : ''}`;
}
