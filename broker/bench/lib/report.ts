// Numbers to text: percentiles, units, and the results table (Markdown, so it can be pasted into
// docs/benchmarks.md as printed).

export interface Row {
  scenario: string;
  case: string;
  measured: string;
  limit: string;
  /** measured / limit, or measured against a target, as text ("43%", "0.8x"). */
  ratio: string;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

export const mb = (bytesPerSecond: number) => `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
export const num = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '-';
export const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(n < 10 ? 1 : 0)} ms` : '-');
export const pct = (a: number, b: number) =>
  Number.isFinite(a / b) && b > 0 ? `${Math.round((100 * a) / b)}%` : '-';
export const kib = (bytes: number) =>
  bytes < 1024
    ? `${Math.round(bytes)} B`
    : bytes >= 1024 * 1024
      ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
      : `${(bytes / 1024).toFixed(bytes % 1024 === 0 || bytes >= 10 * 1024 ? 0 : 1)} KiB`;
export const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;

export function table(rows: Row[]): string {
  const header: Row = {
    scenario: 'scenario',
    case: 'case',
    measured: 'measured',
    limit: 'limit / target',
    ratio: 'ratio',
  };
  const keys: (keyof Row)[] = ['scenario', 'case', 'measured', 'limit', 'ratio'];
  const widths = keys.map((k) => Math.max(...[header, ...rows].map((r) => r[k].length)));
  const line = (r: Row) => `| ${keys.map((k, i) => r[k].padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}
