/** Human output: tables, durations, one run in a few lines. */
import type { Run } from '@nes/client';

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function runDuration(run: Run, now = Date.now()): string {
  if (!run.startedAt) return '-';
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
  return duration(end - Date.parse(run.startedAt));
}

export function progressText(run: Run): string {
  const p = run.progress;
  return p && p.cellsTotal > 0 ? `${p.cellsDone}/${p.cellsTotal}` : '-';
}

export function runsTable(runs: Run[]): string {
  return table(
    ['ID', 'STATUS', 'CELLS', 'DURATION', 'CREATED', 'NOTEBOOK'],
    runs.map((r) => [
      r.id,
      r.error ? `${r.status} (${r.error.class})` : r.status,
      progressText(r),
      runDuration(r),
      r.createdAt.replace(/\.\d+Z$/, 'Z'),
      r.notebook,
    ]),
  );
}

export function failureText(run: Run): string {
  const e = run.error;
  if (!e) return '';
  // The author's cell number (older services sent only the output notebook's index).
  const at =
    typeof e.cellNumber === 'number'
      ? ` at cell ${e.cellNumber}`
      : e.cellIndex !== null
        ? ` at output cell index ${e.cellIndex}`
        : '';
  return `${e.class}${at}: ${e.ename}${e.evalue ? `: ${e.evalue}` : ''}`;
}

export function runDetails(run: Run): string {
  const rows: Array<[string, string]> = [
    ['id', run.id],
    ['status', run.status],
    ['notebook', run.notebook],
    ['ref', run.ref ?? '-'],
    ['commit', run.commitSha ?? '-'],
    ['kernel', run.kernel ?? '-'],
    ['parameters', JSON.stringify(run.parameters)],
    [
      'labels',
      Object.entries(run.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || '-',
    ],
    ['created', run.createdAt],
    ['started', run.startedAt ?? '-'],
    ['finished', run.finishedAt ?? '-'],
    ['cells', progressText(run)],
    ['error', failureText(run) || '-'],
    ['output', run.outputUri ?? '-'],
    ['viewer', run.links?.viewer ?? '-'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`;
}
