/**
 * Per-cell durations as a bar list ranked slowest first (where the time went), the slowest bar
 * full width; a row jumps to its cell. Long notebooks show the slowest ten until asked for all.
 */
import { useState } from 'react';
import { formatDuration } from '../lib/format.ts';
import type { CellDuration } from '../lib/notebook-cells.ts';

const TOP = 10;

export function CellDurations(props: {
  durations: CellDuration[];
  onSelect(cellIndex: number): void;
}) {
  const { durations } = props;
  const [all, setAll] = useState(false);
  if (durations.length === 0) return <p className="muted">No cell has finished yet.</p>;
  const shown = all ? durations : durations.slice(0, TOP);
  const max = Math.max(...durations.map((d) => d.ms), 1);
  const total = durations.reduce((sum, d) => sum + d.ms, 0);
  return (
    <>
      <ul className="durations" aria-label="Cell durations, slowest first">
        {shown.map((d) => (
          <li key={d.index}>
            <button
              type="button"
              className={`duration-row${d.status === 'failed' ? ' failed' : ''}`}
              onClick={() => props.onSelect(d.index)}
              title={d.summary}
              aria-label={`${d.label}: ${formatDuration(d.ms)}${d.status === 'failed' ? ', failed' : ''}`}
            >
              <span className="duration-label mono">{d.label}</span>
              <span className="duration-bar" aria-hidden="true">
                <span style={{ width: `${Math.max(2, (d.ms / max) * 100)}%` }} />
              </span>
              <span className="duration-value mono">{formatDuration(d.ms)}</span>
            </button>
          </li>
        ))}
      </ul>
      {durations.length > TOP ? (
        <button type="button" className="btn small subtle" onClick={() => setAll((v) => !v)}>
          {all ? `Show the slowest ${TOP}` : `Show all ${durations.length} cells`}
        </button>
      ) : null}
      <p className="muted small">Total in cells: {formatDuration(total)}</p>
    </>
  );
}
