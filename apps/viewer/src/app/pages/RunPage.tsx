/**
 * Run (`/runs/:id`): what ran (notebook, commit, parameters), how it went (timeline, failure,
 * per-cell durations, log), and its notebook as it fills in; cancel, rerun with changed
 * parameters, download, compare.
 */
import { isTerminal, NesApiError, type Run } from '@nes/client';
import { useMemo, useState } from 'react';
import { Link } from 'wouter';
import { useNow, useTitle } from '../api.tsx';
import { ErrorView, Labels, Loading, Section, StatusBadge, statusText } from '../components.tsx';
import {
  elapsedMs,
  formatDate,
  formatDuration,
  formatValue,
  notebookName,
  shortSha,
} from '../lib/format.ts';
import { githubLink } from '../lib/links.ts';
import { cellDurations, cellStates } from '../lib/notebook-cells.ts';
import { buildTimeline, stepLabel } from '../lib/timeline.ts';
import { NotebookPanel } from '../NotebookPanel.tsx';
import { CellDurations } from '../run/CellDurations.tsx';
import { LogTail } from '../run/LogTail.tsx';
import { RunActions } from '../run/RunActions.tsx';
import { useNotebook } from '../use-notebook.ts';
import { useRun } from '../use-run.ts';

export default function RunPage(props: { id: string }) {
  const live = useRun(props.id);
  const { run } = live;
  if (live.error) return <ErrorView error={live.error} what={`run ${props.id}`} />;
  if (!run) return <Loading what={`run ${props.id}`} />;
  return <RunView key={run.id} run={run} live={live} />;
}

function isNotFound(error: unknown): boolean {
  return error instanceof NesApiError && error.status === 404;
}

const FAILURE_TEXT: Record<string, string> = {
  cell_error: 'A cell raised an error',
  timeout: 'The run took longer than its time limit',
  kernel_died: 'The kernel died',
  oom: 'The kernel ran out of memory',
  cancelled: 'The run was cancelled',
  source: 'The notebook could not be fetched or read',
  infra: 'The service could not run the notebook',
};

function RunView(props: { run: Run; live: ReturnType<typeof useRun> }) {
  const { run, live } = props;
  const active = !isTerminal(run.status);
  const now = useNow(active);
  useTitle(`${notebookName(run.notebook)} (${statusText(run.status)})`);
  const [focusCell, setFocusCell] = useState<number | undefined>();
  // Clearing first lets the same cell be jumped to again after the reader scrolled away.
  const jumpTo = (cell: number) => {
    setFocusCell(undefined);
    requestAnimationFrame(() => setFocusCell(cell));
  };
  // A run cancelled or failed before it started never saved a notebook: do not ask for one.
  const hasNotebook =
    run.status === 'running' ||
    run.outputUri !== null ||
    (isTerminal(run.status) && run.startedAt !== null);
  const nb = useNotebook(
    hasNotebook ? `/v1/runs/${encodeURIComponent(run.id)}/notebook` : null,
    live.progressTick,
  );
  const states = useMemo(
    () => (nb.notebook ? cellStates(nb.notebook, run) : undefined),
    [nb.notebook, run],
  );
  const durations = useMemo(() => (nb.notebook ? cellDurations(nb.notebook) : []), [nb.notebook]);
  const timeline = buildTimeline(run, live.statusEvents, now);
  const github = githubLink(run);
  const failedCell = run.error?.cellIndex ?? null;
  const duration = elapsedMs(run.startedAt, run.finishedAt, now);
  const progress = run.progress;

  return (
    <div className="page run-page">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href="/">Runs</Link> <span aria-hidden="true">/</span>{' '}
        <span className="mono">{run.id}</span>
      </nav>
      <div className="page-title-row">
        <h1 title={run.notebook}>{notebookName(run.notebook)}</h1>
        <StatusBadge status={run.status} />
        {run.status === 'running' && progress.cellsTotal > 0 ? (
          <span
            className="progress"
            title={`${progress.cellsDone} of ${progress.cellsTotal} code cells done`}
          >
            <progress
              max={progress.cellsTotal}
              value={progress.cellsDone}
              aria-label="Cells done"
            />
            <span className="mono small">
              {progress.cellsDone}/{progress.cellsTotal} cells
            </span>
          </span>
        ) : null}
        {run.cancelRequested && active ? <span className="muted">cancelling…</span> : null}
        <span className="header-spacer" />
        <RunActions run={run} onChange={live.replace} github={github} />
      </div>

      <dl className="meta-grid">
        <div>
          <dt>Notebook</dt>
          <dd className="mono" title={run.notebook}>
            {github ? (
              <a href={github} target="_blank" rel="noreferrer">
                {run.notebook}
              </a>
            ) : (
              run.notebook
            )}
          </dd>
        </div>
        <div>
          <dt>Ref</dt>
          <dd className="mono">
            {run.ref ?? '-'}
            {run.commitSha ? (
              <span className="sha" title={run.commitSha}>
                {' '}
                @{shortSha(run.commitSha)}
              </span>
            ) : null}
          </dd>
        </div>
        <div>
          <dt>Kernel</dt>
          <dd className="mono">{run.kernel ?? 'default'}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatDate(run.createdAt)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd className="mono">{run.startedAt ? formatDuration(duration) : '-'}</dd>
        </div>
        <div>
          <dt>Queue</dt>
          <dd className="mono">{run.queue}</dd>
        </div>
        {run.sweepId ? (
          <div>
            <dt>Sweep</dt>
            <dd className="mono">{run.sweepId}</dd>
          </div>
        ) : null}
        {Object.keys(run.labels ?? {}).length ? (
          <div>
            <dt>Labels</dt>
            <dd>
              <Labels labels={run.labels} />
            </dd>
          </div>
        ) : null}
        {run.outputUri ? (
          <div className="wide">
            <dt>Output</dt>
            <dd className="mono" title={run.outputUri}>
              {/* The store keeps each run's files under runs/ID/ (its per-run layout). */}
              <Link href={`/browse/runs/${encodeURIComponent(run.id)}/`}>run files</Link> ·{' '}
              {run.outputUri}
            </dd>
          </div>
        ) : null}
      </dl>

      <ol className="timeline" aria-label="Status timeline">
        {timeline.map((step) => (
          <li key={step.status} className={`step step-${step.state} step-${step.status}`}>
            <span className="step-dot" aria-hidden="true" />
            <span className="step-name">{stepLabel(step.status)}</span>
            <span className="step-time mono" title={step.time ? formatDate(step.time) : undefined}>
              {step.state === 'skipped'
                ? 'skipped'
                : step.time
                  ? formatDate(step.time).slice(11)
                  : step.state === 'pending'
                    ? 'pending'
                    : '-'}
            </span>
            {step.durationMs !== null ? (
              <span className="step-duration mono">{formatDuration(step.durationMs)}</span>
            ) : null}
          </li>
        ))}
      </ol>

      {run.error ? (
        <div className="failure" role="alert" aria-label="Failure">
          <div className="failure-head">
            <span className="failure-class mono">{run.error.class}</span>
            <span>{FAILURE_TEXT[run.error.class] ?? 'The run failed'}</span>
            {failedCell !== null ? (
              <button
                type="button"
                className="btn small"
                onClick={() => jumpTo(failedCell)}
                disabled={!nb.notebook}
              >
                Jump to failing cell
              </button>
            ) : null}
          </div>
          {run.error.ename || run.error.evalue ? (
            <pre className="failure-text">
              <strong>{run.error.ename}</strong>
              {run.error.evalue ? `: ${run.error.evalue}` : ''}
            </pre>
          ) : null}
        </div>
      ) : null}

      <div className="run-grid">
        <div className="run-main">
          <LogTail lines={live.logs} dropped={live.logsDropped} active={active} />
          {nb.notebook ? (
            <NotebookPanel
              title={active ? 'Notebook (live)' : 'Notebook'}
              notebook={nb.notebook}
              cellStates={states}
              focusCell={focusCell}
            />
          ) : nb.error ? (
            active || isNotFound(nb.error) ? (
              <div className="empty">
                {active
                  ? 'The notebook appears here once the run saves it.'
                  : 'This run saved no output notebook.'}
              </div>
            ) : (
              <ErrorView error={nb.error} what="the output notebook" />
            )
          ) : hasNotebook ? (
            <Loading what="the notebook" />
          ) : active ? (
            <div className="empty">The notebook appears here when the run starts.</div>
          ) : (
            <div className="empty">
              The run ended before it started: there is no output notebook.
            </div>
          )}
        </div>
        <aside className="run-side">
          <Section title="Parameters" id="parameters">
            {Object.keys(run.parameters ?? {}).length === 0 ? (
              <p className="muted">The notebook's defaults.</p>
            ) : (
              <table className="kv-table" aria-label="Parameters">
                <tbody>
                  {Object.entries(run.parameters).map(([name, value]) => (
                    <tr key={name}>
                      <th className="mono">{name}</th>
                      <td className="mono">{formatValue(value)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Section>
          <Section title="Cell durations" id="durations">
            <CellDurations durations={durations} onSelect={jumpTo} />
          </Section>
        </aside>
      </div>
    </div>
  );
}
