/**
 * Run (`/runs/:id`): what ran (notebook, commit, parameters), how it went (timeline, failure,
 * per-cell durations, log), and its notebook as it fills in; cancel, rerun with changed
 * parameters, download, compare.
 */
import { isTerminal, NesApiError, type Run } from '@nes/client';
import { useMemo, useRef, useState } from 'react';
import { Link } from 'wouter';
import { authorCellNumbers } from '../../notebook/index.ts';
import { useNow, useTitle } from '../api.tsx';
import {
  CommitSha,
  ErrorView,
  Labels,
  Loading,
  Section,
  StatusBadge,
  statusText,
  Time,
} from '../components.tsx';
import { ExportHtmlButton } from '../ExportHtmlButton.tsx';
import { FAILURE_TEXT, wasStopped } from '../lib/failure.ts';
import {
  elapsedMs,
  formatDate,
  formatDateZone,
  formatDuration,
  formatValue,
  humanizeSeconds,
  notebookName,
  shortSha,
} from '../lib/format.ts';
import { browseDirHref, browseHref, githubLink } from '../lib/links.ts';
import { type CellLike, cellDurations, cellStates } from '../lib/notebook-cells.ts';
import { buildTimeline, stepLabel } from '../lib/timeline.ts';
import { TRIGGER_LABELS, triggerOf } from '../lib/trigger.ts';
import { NotebookPanel } from '../NotebookPanel.tsx';
import { CellDurations } from '../run/CellDurations.tsx';
import { LogTail } from '../run/LogTail.tsx';
import { RunActions } from '../run/RunActions.tsx';
import { RunResults } from '../run/RunResults.tsx';
import { useKeys } from '../use-keys.ts';
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

/**
 * The cell a run ended at, as an index into the output notebook: the one the error names, else
 * (a cancelled or timed-out run) the one papermill still marks running, else the run's last
 * known current cell.
 */
function endCellIndex(run: Run, cells: readonly CellLike[] | undefined): number | null {
  if (run.error?.cellIndex !== null && run.error?.cellIndex !== undefined)
    return run.error.cellIndex;
  if (cells) {
    const running = cells.findIndex(
      (cell) =>
        cell.cell_type === 'code' &&
        (cell.metadata?.papermill as { status?: unknown } | undefined)?.status === 'running',
    );
    if (running >= 0) return running;
  }
  return run.progress?.currentCell ?? null;
}

function RunView(props: { run: Run; live: ReturnType<typeof useRun> }) {
  const { run, live } = props;
  const active = !isTerminal(run.status);
  const now = useNow(active);
  useTitle(`${notebookName(run.notebook)} (${statusText(run.status)})`);
  const [focusCell, setFocusCell] = useState<number | undefined>();
  // Clearing first lets the same cell be jumped to again after the reader scrolled away.
  const cellAt = useRef(-1);
  const jumpTo = (cell: number) => {
    cellAt.current = cell;
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
  const cells = nb.notebook?.cells as CellLike[] | undefined;
  const numbers = useMemo(() => (cells ? authorCellNumbers(cells) : []), [cells]);
  const endCell = run.error || wasStopped(run) ? endCellIndex(run, cells) : null;
  // The API's author number when it sent one, else the same numbering over the notebook.
  const endNumber = run.error?.cellNumber ?? (endCell !== null ? (numbers[endCell] ?? null) : null);
  const duration = elapsedMs(run.startedAt, run.finishedAt, now);
  // Keyboard: j/k to the next and previous code cell, e to the cell the run ended at.
  const stepCell = (step: number) => {
    if (!cells) return;
    let i = cellAt.current;
    do i += step;
    while (i >= 0 && i < cells.length && cells[i]?.cell_type !== 'code');
    if (i < 0 || i >= cells.length) return;
    jumpTo(i);
  };
  useKeys({
    j: () => stepCell(1),
    k: () => stepCell(-1),
    e: () => {
      if (endCell !== null) jumpTo(endCell);
    },
  });
  const progress = run.progress;

  return (
    <div className="page run-page">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href="/">Runs</Link> <span aria-hidden="true">/</span>{' '}
        <Link
          href={`/?notebook=${encodeURIComponent(run.notebook)}`}
          title="Every run of this notebook"
        >
          {notebookName(run.notebook)}
        </Link>{' '}
        (<Link href={`/history?notebook=${encodeURIComponent(run.notebook)}`}>history</Link>){' '}
        <span aria-hidden="true">/</span> <span className="mono">{run.id}</span>
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
            <CommitSha sha={run.commitSha} />
          </dd>
        </div>
        <div>
          <dt>Kernel</dt>
          <dd className="mono">{run.kernel ?? 'default'}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd title={formatDateZone(run.createdAt)}>{formatDate(run.createdAt)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd className="mono">{run.startedAt ? formatDuration(duration) : '-'}</dd>
        </div>
        <TriggerFacts run={run} />
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
        {Object.keys(run.labels ?? {}).some((key) => !TRIGGER_LABELS.has(key)) ? (
          <div>
            <dt>Labels</dt>
            <dd>
              <Labels
                labels={Object.fromEntries(
                  Object.entries(run.labels).filter(([key]) => !TRIGGER_LABELS.has(key)),
                )}
              />
            </dd>
          </div>
        ) : null}
        {run.outputUri ? (
          <div className="wide">
            <dt>Output</dt>
            <dd className="output-place">
              {/* The store keeps each run's files under runs/ID/ (its per-run layout). */}
              <Link href={browseHref(`runs/${run.id}/output.ipynb`)}>output.ipynb</Link>
              {' · '}
              <Link href={browseDirHref(`runs/${run.id}/`)}>all files of this run</Link>
              <code className="uri" title="Where the output notebook is stored">
                {readableUri(run.outputUri)}
              </code>
            </dd>
          </div>
        ) : null}
      </dl>

      <ol className="timeline" aria-label="Status timeline">
        {timeline.map((step) => (
          <li key={step.status} className={`step step-${step.state} step-${step.status}`}>
            <span className="step-dot" aria-hidden="true" />
            <span className="step-name">{stepLabel(step.status)}</span>
            <span
              className="step-time mono"
              title={step.time ? formatDateZone(step.time) : undefined}
            >
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

      <RunEnd
        run={run}
        cancelledBy={live.cancelRequest?.by ?? null}
        endCell={endCell}
        endNumber={endNumber}
        canJump={Boolean(nb.notebook)}
        onJump={jumpTo}
      />

      <div className="run-grid">
        <div className="run-main">
          <LogTail lines={live.logs} dropped={live.logsDropped} active={active} />
          {nb.notebook ? (
            <NotebookPanel
              title={active ? 'Notebook (live)' : 'Notebook'}
              notebook={nb.notebook}
              cellStates={states}
              focusCell={focusCell}
              bannerJump={false}
              extra={
                <ExportHtmlButton
                  notebook={nb.notebook}
                  fileName={`${notebookName(run.notebook).replace(/\.ipynb$/, '')}-${run.id}.html`}
                  title={notebookName(run.notebook)}
                  subtitle={`Run ${run.id}, ${statusText(run.status).toLowerCase()}, ${run.notebook}${run.commitSha ? ` @ ${shortSha(run.commitSha)}` : ''}, ${formatDateZone(run.createdAt)}`}
                />
              }
              bannerLead={wasStopped(run) === 'timed_out' ? 'Stopped at its time limit' : undefined}
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
          <Section title="Results" id="results">
            <RunResults run={run} cellNumbers={numbers} onSelect={jumpTo} />
          </Section>
          <Section title="Cell durations" id="durations">
            <CellDurations durations={durations} onSelect={jumpTo} />
          </Section>
        </aside>
      </div>
    </div>
  );
}

/** A `file://` URI as the path it names (decoded), other URIs as they are. */
function readableUri(uri: string): string {
  if (!uri.startsWith('file://')) return uri;
  try {
    return decodeURIComponent(new URL(uri).pathname);
  } catch {
    return uri;
  }
}

/**
 * How the run ended when it did not succeed. A failure names its class, the error and the cell
 * that raised it; a cancelled or timed-out run is not a failure of the notebook, so it says when
 * it was stopped and which cell was running instead. One jump control, to that cell.
 */
function RunEnd(props: {
  run: Run;
  /** The token that asked to cancel, when the run's events say. */
  cancelledBy: string | null;
  endCell: number | null;
  endNumber: number | null;
  canJump: boolean;
  onJump(cell: number): void;
}) {
  const { run, endCell, endNumber } = props;
  const stopped = wasStopped(run);
  if (!run.error && !stopped) return null;
  const jump =
    endCell !== null ? (
      <button
        type="button"
        className="btn small"
        onClick={() => props.onJump(endCell)}
        disabled={!props.canJump}
      >
        {endNumber !== null ? `Go to cell ${endNumber}` : 'Go to the cell'}
      </button>
    ) : null;
  const ranFor = formatDuration(elapsedMs(run.startedAt, run.finishedAt, Date.now()));
  if (stopped) {
    const when = run.finishedAt ? (
      <>
        at <time title={formatDateZone(run.finishedAt)}>{formatDate(run.finishedAt)}</time>
      </>
    ) : null;
    const where = !run.startedAt
      ? ', before it started'
      : endNumber !== null
        ? `, while cell ${endNumber} was running`
        : endCell !== null
          ? ', while the parameters cell was running'
          : ', between cells';
    return (
      <div
        className={`run-end stopped stopped-${stopped}`}
        role="status"
        aria-label="How the run ended"
      >
        <div className="failure-head">
          <StatusBadge status={stopped === 'cancelled' ? 'cancelled' : 'timed_out'} />
          <span>
            {stopped === 'cancelled'
              ? `Cancelled${props.cancelledBy ? ` by ${props.cancelledBy}` : ''}`
              : 'Stopped at its time limit'}{' '}
            {when}
            {run.startedAt ? ` after ${ranFor}` : ''}
            {where}.
          </span>
          {jump}
        </div>
        {stopped === 'timed_out' ? (
          <p className="muted small">
            {/* The run's own limit; the runner's message gives what was left of it once the
                notebook was prepared, which reads like a different limit. */}
            {run.timeoutSeconds
              ? `Its time limit is ${formatDuration(run.timeoutSeconds * 1000)} (timeoutSeconds), counted from when it started.`
              : run.error?.evalue
                ? humanizeSeconds(run.error.evalue)
                : ''}
          </p>
        ) : null}
        {stopped === 'cancelled' ? (
          <p className="muted small">
            The notebook as far as it ran is kept below; cells after it read "Not run".
          </p>
        ) : null}
      </div>
    );
  }
  const error = run.error;
  if (!error) return null;
  return (
    <div className="failure run-end" role="alert" aria-label="Failure">
      <div className="failure-head">
        <span className="failure-class mono">{error.class}</span>
        <span>
          {FAILURE_TEXT[error.class] ?? 'The run failed'}
          {endNumber !== null ? ` in cell ${endNumber}` : ''}
          {run.finishedAt ? (
            <>
              {' '}
              (<Time iso={run.finishedAt} now={Date.now()} />)
            </>
          ) : null}
        </span>
        {jump}
      </div>
      {error.ename || error.evalue ? (
        <pre className="failure-text">
          <strong>{error.ename}</strong>
          {error.evalue ? `: ${humanizeSeconds(error.evalue)}` : ''}
        </pre>
      ) : null}
    </div>
  );
}

/** Who or what started the run: the submitting token, the Airflow task, the run it reran. */
function TriggerFacts(props: { run: Run }) {
  const trigger = triggerOf(props.run);
  return (
    <>
      {trigger.airflow ? (
        <div className="wide">
          <dt>Airflow</dt>
          <dd title={trigger.airflow.runId ?? undefined}>
            DAG <code>{trigger.airflow.dag}</code>, task <code>{trigger.airflow.task}</code>
            {trigger.airflow.how ? ` (${trigger.airflow.how})` : ''}
          </dd>
        </div>
      ) : null}
      <div>
        <dt>Submitted by</dt>
        <dd className="mono">{trigger.by ?? <span className="muted">not recorded</span>}</dd>
      </div>
      {trigger.rerunOf ? (
        <div>
          <dt>Rerun of</dt>
          <dd className="mono">
            <Link href={`/runs/${encodeURIComponent(trigger.rerunOf)}`}>{trigger.rerunOf}</Link>
          </dd>
        </div>
      ) : null}
    </>
  );
}
