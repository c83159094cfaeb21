/**
 * The run's log as it arrives: the newest lines (capped), following the end unless the reader
 * scrolled up or paused it. Lines are terminal text: their ANSI colours are shown, escaped.
 */
import { useEffect, useRef, useState } from 'react';
import { AnsiText } from '../../notebook/index.ts';
import { formatClock } from '../lib/format.ts';
import type { LogLine } from '../use-run.ts';

export function LogTail(props: { lines: LogLine[]; dropped: number; active: boolean }) {
  const [open, setOpen] = useState(true);
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLDivElement>(null);
  const count = props.lines.length;

  // biome-ignore lint/correctness/useExhaustiveDependencies: count is the trigger to scroll
  useEffect(() => {
    const el = box.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [count, follow, open]);

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atEnd !== follow) setFollow(atEnd);
  };

  return (
    <section className="panel log-panel" aria-label="Log">
      <header className="panel-header">
        <h2>
          <button
            type="button"
            className="disclosure"
            aria-expanded={open}
            onClick={() => setOpen((v) => !v)}
          >
            <span aria-hidden="true">{open ? '▾' : '▸'}</span> Log
          </button>
          <span className="muted small">
            {' '}
            {count + props.dropped} {count + props.dropped === 1 ? 'line' : 'lines'}
          </span>
        </h2>
        {open ? (
          <div className="panel-actions">
            {props.active ? (
              <button
                type="button"
                className="btn small"
                aria-pressed={!follow}
                onClick={() => setFollow((v) => !v)}
              >
                {follow ? 'Pause scrolling' : 'Follow'}
              </button>
            ) : null}
          </div>
        ) : null}
      </header>
      {open ? (
        <div className="log" ref={box} onScroll={onScroll} role="log" aria-label="Log lines">
          {props.dropped > 0 ? (
            <div className="log-note">{props.dropped} earlier lines not shown</div>
          ) : null}
          {count === 0 ? (
            <div className="log-note">
              {props.active ? 'Waiting for output…' : 'Nothing was logged.'}
            </div>
          ) : (
            props.lines.map((line) => (
              <div key={line.n} className={`log-line log-${line.stream}`}>
                <span className="log-time">{line.time ? formatClock(line.time) : ''}</span>
                <AnsiText className="log-text" text={line.text} />
              </div>
            ))
          )}
        </div>
      ) : null}
    </section>
  );
}
