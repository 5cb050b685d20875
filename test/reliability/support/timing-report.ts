/**
 * The timings a reliability run measured (outage answers, recovery,
 * cross-instance invalidation), printed once at the end of a suite so that
 * they can be quoted without digging through the test output.
 */
export class TimingReport {
  private readonly lines: string[] = [];

  constructor(private readonly title: string) {}

  add(line: string): void {
    this.lines.push(line);
  }

  print(): void {
    if (this.lines.length === 0) return;
    process.stdout.write(`\n[reliability] ${this.title}\n${this.lines.map((line) => `  - ${line}`).join('\n')}\n`);
  }
}

/** Nearest-rank percentile of a list of milliseconds. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
