/**
 * Where a run's time goes, for `--log-level DEBUG` (and bench/runner.bench.ts, which reads it):
 * milestones in milliseconds since this process started (performance.now()'s origin), so Node's
 * own start is included.
 */
const marks: Array<[string, number]> = [];

export function mark(name: string): void {
  marks.push([name, performance.now()]);
}

/** `Timings (ms since the process started): cli loaded 180, kernel ready 850, ...`. */
export function formatTimings(): string {
  const parts = marks.map(([name, at]) => `${name} ${Math.round(at)}`);
  return `Timings (ms since the process started): ${parts.join(', ')}`;
}
