/** Human output: tables, durations, one run in a few lines. */
import type { Run, RunResults } from '@nes/client';

/** `nes get --results`: one line per result, then the exit value. */
export function resultsText(results: RunResults): string {
  const lines: string[] = [];
  if (!results.complete)
    lines.push(`(run ${results.status}: results are collected when it finishes)`);
  const rows = results.results.map((r) => {
    const where = `cell index ${r.cellIndex}`;
    if (r.kind === 'value') {
      return [r.name, r.omitted ? `(not kept: ${r.omitted})` : JSON.stringify(r.value)];
    }
    if (r.kind === 'display')
      return [r.name, `(display: ${(r.mimeTypes ?? []).join(', ')}, ${where})`];
    return [r.name, `(scrapbook ${r.encoder ?? ''} encoding, ${where})`];
  });
  if (rows.length > 0) lines.push(table(['NAME', 'VALUE'], rows).trimEnd());
  else if (results.complete) lines.push('(no results recorded)');
  if (results.exit)
    lines.push(
      `exit value (cell index ${results.exit.cellIndex}): ${JSON.stringify(results.exit.value)}`,
    );
  if (results.dropped.length > 0)
    lines.push(`not kept (over the limits): ${results.dropped.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function runDuration(run: Run, now = Date.now()): string {
  if (!run.startedAt) return '-';
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
  return duration(end - Date.parse(run.startedAt));
}

function progressText(run: Run): string {
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
