/**
 * Runs (`/`): every run, newest first, live. Filters live in the URL (`?status=failed&label=k=v
 * &notebook=…&q=…`) so a filtered view can be shared; sweeps fold into one row each; two runs
 * can be picked for comparison.
 */
import { isTerminal, RUN_STATUSES, type Run, type RunStatus } from '@nes/client';
import { Fragment, memo, useCallback, useRef, useState } from 'react';
import { Link, useLocation, useSearchParams } from 'wouter';
import { describeError, useApi, useNow, useTitle } from '../api.tsx';
import {
  CommitSha,
  ErrorView,
  Labels,
  Loading,
  SignIn,
  StatusBadge,
  statusText,
  Time,
} from '../components.tsx';
import { failureSummary } from '../lib/failure.ts';
import {
  compactParameters,
  elapsedMs,
  formatDuration,
  notebookName,
  notebookOrigin,
  shortRunId,
} from '../lib/format.ts';
import {
  groupSweeps,
  matchesFilter,
  parseLabelFilter,
  type RunFilter,
  type RunRow,
} from '../lib/run-list.ts';
import { TRIGGER_LABELS, triggerOf, triggerText } from '../lib/trigger.ts';
import { NewRunForm } from '../NewRunForm.tsx';
import { useKeys } from '../use-keys.ts';
import { useRunList } from '../use-run-list.ts';

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const [, navigate] = useLocation();
  const [showNew, setShowNew] = useState(false);
  const [selected, setSelected] = useState<string[]>([]);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());

  const statuses = params
    .getAll('status')
    .filter((s): s is RunStatus => RUN_STATUSES.includes(s as RunStatus));
  const labelText = params.get('label') ?? '';
  const labelParse = parseLabelFilter(labelText);
  const filter: RunFilter = {
    statuses,
    labels: labelParse.error ? {} : labelParse.labels,
    notebook: params.get('notebook') ?? '',
    search: params.get('q') ?? '',
  };
  const list = useRunList(filter);
  useTitle('Runs');
  // A few hundred rows at most: filtering on each render costs less than memoizing on the URL.
  const visible = list.runs.filter((run) => matchesFilter(run, filter));
  const rows = groupSweeps(visible);
  // Active runs' durations tick every second; "5 min ago" only needs a slower clock.
  const anyActive = visible.some((run) => !isTerminal(run.status));
  const now = useNow(true, anyActive ? 1000 : 30_000);

  const update = (name: string, value: string | string[]) => {
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        next.delete(name);
        for (const v of [value].flat()) if (v) next.append(name, v);
        return next;
      },
      { replace: true },
    );
  };
  const toggleStatus = (status: RunStatus) => {
    update(
      'status',
      statuses.includes(status) ? statuses.filter((s) => s !== status) : [...statuses, status],
    );
  };
  const toggleSelected = useCallback((id: string) => {
    setSelected((sel) => (sel.includes(id) ? sel.filter((s) => s !== id) : [...sel, id]));
  }, []);
  // Keyboard: `/` searches, j/k move between runs, Enter or o opens the current one.
  const searchRef = useRef<HTMLInputElement>(null);
  const [current, setCurrentState] = useState<string | null>(null);
  // Keys can come faster than renders: the ref is the current row between them.
  const currentRef = useRef<string | null>(null);
  const setCurrent = (id: string | null) => {
    currentRef.current = id;
    setCurrentState(id);
  };
  const moveCurrent = (step: number) => {
    // The rows as shown (filters, sweeps folded or open), in order.
    const rowsShown = [...document.querySelectorAll<HTMLElement>('tr.run-row[data-run-id]')];
    const ids = rowsShown.map((row) => row.dataset.runId ?? '');
    if (ids.length === 0) return;
    const at = currentRef.current ? ids.indexOf(currentRef.current) : -1;
    const index = at === -1 ? 0 : Math.min(ids.length - 1, Math.max(0, at + step));
    setCurrent(ids[index] ?? null);
    rowsShown[index]?.scrollIntoView?.({ block: 'nearest' });
  };
  const openCurrent = () => {
    if (currentRef.current) navigate(`/runs/${encodeURIComponent(currentRef.current)}`);
  };
  useKeys({
    '/': () => searchRef.current?.focus(),
    j: () => moveCurrent(1),
    k: () => moveCurrent(-1),
    Enter: openCurrent,
    o: openCurrent,
  });
  const selectedRuns = list.runs.filter((run) => selected.includes(run.id));
  const filtered =
    statuses.length > 0 || labelText !== '' || filter.notebook !== '' || filter.search !== '';

  if (list.error && describeError(list.error).signIn) return <SignIn />;

  return (
    <div className="page runs-page">
      <div className="page-title-row">
        <h1>Runs</h1>
        <LiveIndicator state={list.stream} />
        <span className="header-spacer" />
        <span
          className="muted small keys-hint"
          title="Keyboard: / search, j and k move, Enter opens"
        >
          <kbd>/</kbd> search · <kbd>j</kbd> <kbd>k</kbd> move · <kbd>Enter</kbd> open
        </span>
        <button
          type="button"
          className="btn primary"
          onClick={() => setShowNew((v) => !v)}
          aria-expanded={showNew}
        >
          New run
        </button>
      </div>
      {showNew ? <NewRunForm onClose={() => setShowNew(false)} /> : null}
      {selected.length > 0 ? (
        <SelectionBar
          runs={selectedRuns}
          onCompare={
            selected.length === 2
              ? () =>
                  navigate(
                    `/compare?a=${encodeURIComponent(selected[0] ?? '')}&b=${encodeURIComponent(selected[1] ?? '')}`,
                  )
              : null
          }
          onClear={() => setSelected([])}
        />
      ) : null}

      <form className="filters" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <fieldset className="status-filter" aria-label="Status">
          {RUN_STATUSES.map((status) => (
            <button
              key={status}
              type="button"
              className={`chip chip-${status}`}
              aria-pressed={statuses.includes(status)}
              onClick={() => toggleStatus(status)}
            >
              {statusText(status)}
            </button>
          ))}
        </fieldset>
        <input
          ref={searchRef}
          className="input"
          type="search"
          aria-keyshortcuts="/"
          aria-label="Search runs"
          placeholder="Search id, notebook, parameters…"
          value={filter.search}
          onChange={(e) => update('q', e.target.value)}
        />
        <input
          className="input mono"
          aria-label="Filter by path"
          placeholder="path contains…"
          value={filter.notebook}
          onChange={(e) => update('notebook', e.target.value)}
        />
        <input
          className="input mono"
          aria-label="Filter by label"
          aria-invalid={Boolean(labelParse.error) || undefined}
          aria-describedby={labelParse.error ? 'label-filter-error' : undefined}
          placeholder="label k=v"
          value={labelText}
          onChange={(e) => update('label', e.target.value)}
          title={labelParse.error}
        />
        {filtered ? (
          <button
            type="button"
            className="btn subtle"
            onClick={() => setParams(new URLSearchParams(), { replace: true })}
          >
            Clear filters
          </button>
        ) : null}
      </form>
      {labelParse.error ? (
        <p className="field-error" role="alert" id="label-filter-error">
          {labelParse.error}
        </p>
      ) : null}

      {list.error && list.runs.length === 0 ? (
        <ErrorView error={list.error} retry={list.reload} what="the runs" />
      ) : list.loading && list.runs.length === 0 ? (
        <Loading what="runs" />
      ) : rows.length === 0 ? (
        <div className="empty">
          {filtered
            ? 'No runs match these filters.'
            : 'No runs yet. Start one with “New run”, the nes CLI or the API.'}
        </div>
      ) : (
        <div className="table-wrap">
          <table className="runs-table">
            <thead>
              <tr>
                <th className="col-select">
                  <span className="visually-hidden">Select</span>
                </th>
                <th className="col-status">Status</th>
                <th className="col-notebook">Notebook</th>
                <th className="col-ref">Ref</th>
                <th className="col-params">Parameters</th>
                <th className="col-labels">Labels</th>
                <th className="col-time">Started</th>
                <th className="col-duration">Duration</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) =>
                row.kind === 'run' ? (
                  <RunRowView
                    key={row.run.id}
                    run={row.run}
                    now={now}
                    selected={selected.includes(row.run.id)}
                    current={current === row.run.id}
                    onSelect={toggleSelected}
                  />
                ) : (
                  <SweepRows
                    key={row.sweepId}
                    row={row}
                    now={now}
                    open={expanded.has(row.sweepId)}
                    onToggle={() =>
                      setExpanded((set) => {
                        const next = new Set(set);
                        if (next.has(row.sweepId)) next.delete(row.sweepId);
                        else next.add(row.sweepId);
                        return next;
                      })
                    }
                    selected={selected}
                    current={current}
                    onSelect={toggleSelected}
                  />
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
      {list.error && list.runs.length > 0 ? (
        <ErrorView error={list.error} retry={list.reload} />
      ) : null}
      {list.nextCursor ? (
        <div className="load-more">
          <button type="button" className="btn" onClick={list.loadMore} disabled={list.loadingMore}>
            {list.loadingMore ? 'Loading…' : 'Load older runs'}
          </button>
        </div>
      ) : null}
    </div>
  );
}

function LiveIndicator(props: { state: string }) {
  const live = props.state === 'live';
  return (
    <span
      className={`live ${live ? 'on' : 'off'}`}
      role="status"
      title={live ? 'Updates arrive as they happen' : 'Reconnecting to the event stream'}
    >
      <span className="live-dot" aria-hidden="true" />
      {live ? 'Live' : props.state === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
    </span>
  );
}

function runDuration(run: Run, now: number): string {
  return formatDuration(elapsedMs(run.startedAt, run.finishedAt, now));
}

/**
 * A row re-renders only when its run changes or, for a finished run, once a minute: the list
 * stays cheap while hundreds of rows sit under a stream of progress events.
 */
function RunRowView(props: RunRowProps) {
  const { run, now } = props;
  const age = now - Date.parse(run.startedAt ?? run.createdAt);
  const coarse = isTerminal(run.status) && age > 120_000 ? Math.floor(now / 60_000) * 60_000 : now;
  return <RunRowMemo {...props} now={coarse} />;
}

interface RunRowProps {
  run: Run;
  now: number;
  selected: boolean;
  /** The row j/k moved to. */
  current?: boolean;
  onSelect(id: string): void;
  nested?: boolean;
}

const RunRowMemo = memo(function RunRow(props: RunRowProps) {
  const { run, now } = props;
  const href = `/runs/${encodeURIComponent(run.id)}`;
  const active = !isTerminal(run.status);
  const progress = run.progress && run.progress.cellsTotal > 0 ? run.progress : null;
  const failure = failureSummary(run);
  const labels = Object.fromEntries(
    Object.entries(props.nested ? withoutSweepLabel(run.labels) : (run.labels ?? {})).filter(
      ([key]) => !TRIGGER_LABELS.has(key),
    ),
  );
  const trigger = triggerText(triggerOf(run));
  const params = compactParameters(run.parameters, 60);
  return (
    <tr
      className={`run-row${props.nested ? ' nested' : ''}${props.selected ? ' selected' : ''}${props.current ? ' current' : ''}`}
      data-run-id={run.id}
      aria-current={props.current || undefined}
    >
      <td className="col-select">
        <input
          type="checkbox"
          aria-label={`Select run ${run.id}`}
          checked={props.selected}
          onChange={() => props.onSelect(run.id)}
        />
      </td>
      <td className="col-status">
        <StatusBadge status={run.status} />
        {active && run.status === 'running' && progress ? (
          <span
            className="progress-text"
            title={`${progress.cellsDone} of ${progress.cellsTotal} code cells done`}
          >
            {progress.cellsDone}/{progress.cellsTotal}
          </span>
        ) : null}
      </td>
      <td className="col-notebook">
        <Link href={href} className="run-link" title={run.notebook}>
          {notebookName(run.notebook)}
          <span className="visually-hidden">, run {shortRunId(run.id)}</span>
        </Link>
        <div className="sub mono" title={run.notebook}>
          <span title={run.id}>{shortRunId(run.id)}</span> · {run.notebook}
        </div>
        {trigger ? <div className="trigger-line small">{trigger}</div> : null}
        {failure ? (
          <div className={`failure-line failure-${run.status}`} title={failure.full}>
            <span className="failure-title">{failure.title}</span>
            {failure.line ? <span className="failure-message mono">{failure.line}</span> : null}
          </div>
        ) : null}
        {/* On narrow screens the columns below fold into this line (see styles.css). */}
        <div className="row-extra small">
          <span className="extra-ref mono">
            <RefText run={run} />
          </span>
          {params ? <span className="extra-params mono">{params}</span> : null}
          <span className="extra-labels">
            <Labels labels={labels} />
          </span>
        </div>
      </td>
      <td className="col-ref mono small">
        <RefText run={run} />
      </td>
      <td
        className="col-params mono small params-cell"
        title={compactParameters(run.parameters, 2000)}
      >
        {params || <span className="muted">-</span>}
      </td>
      <td className="col-labels">
        <Labels labels={labels} />
      </td>
      <td className="col-time small">
        <Time iso={run.startedAt ?? run.createdAt} now={now} />
      </td>
      <td className={`col-duration mono small${active ? ' ticking' : ''}`}>
        {run.startedAt ? runDuration(run, now) : <span className="muted">-</span>}
      </td>
    </tr>
  );
});

function SweepRows(props: {
  row: Extract<RunRow, { kind: 'sweep' }>;
  now: number;
  open: boolean;
  onToggle(): void;
  selected: string[];
  current: string | null;
  onSelect(id: string): void;
}) {
  const { row } = props;
  const first = row.runs[0];
  const failed = row.runs.filter((run) => run.status === 'failed' || run.status === 'timed_out');
  return (
    <Fragment>
      <tr className="sweep-row">
        <td className="col-select" />
        <td colSpan={7}>
          <button
            type="button"
            className="sweep-toggle"
            aria-expanded={props.open}
            onClick={props.onToggle}
          >
            <span className="caret" aria-hidden="true">
              {props.open ? '▾' : '▸'}
            </span>
            Sweep <span className="mono">{shortRunId(row.sweepId)}</span>
            <span className="muted">
              {' '}
              · {first ? notebookName(first.notebook) : ''} · {row.runs.length} runs
            </span>
          </button>
          <span className="sweep-counts">
            {RUN_STATUSES.filter((s) => row.counts[s]).map((s) => (
              <span key={s} className={`count count-${s}`} title={statusText(s)}>
                <StatusBadge status={s} compact /> {row.counts[s]}
              </span>
            ))}
          </span>
          <span className="muted small">
            {' '}
            · <Time iso={row.createdAt} now={props.now} />
          </span>
          {failed.length > 0 ? (
            <BulkButton
              label={`Rerun the ${failed.length} failed`}
              confirm={`Start ${failed.length} new run${failed.length === 1 ? '' : 's'}, one per failed or timed-out run of this sweep, with the same parameters?`}
              runs={failed}
              action="rerun"
            />
          ) : null}
        </td>
      </tr>
      {props.open
        ? row.runs.map((run) => (
            <RunRowView
              key={run.id}
              run={run}
              now={props.now}
              nested
              selected={props.selected.includes(run.id)}
              current={props.current === run.id}
              onSelect={props.onSelect}
            />
          ))
        : null}
    </Fragment>
  );
}

/** The ref and short commit; a notebook read from a local root or a bucket has no Git ref. */
function RefText(props: { run: Run }) {
  const { run } = props;
  if (!run.ref && !run.commitSha) {
    const origin = notebookOrigin(run.notebook);
    return (
      <span
        className="muted"
        title={
          origin === 'local'
            ? 'A file under a notebook root: no Git ref'
            : 'Read from the object store: no Git ref'
        }
      >
        {origin === 'local' ? 'local file' : origin === 'gcs' ? 'bucket' : '-'}
      </span>
    );
  }
  return (
    <>
      {run.ref ?? ''}
      <CommitSha sha={run.commitSha} />
    </>
  );
}

/** Inside a sweep's group the sweep's own label says nothing new. */
function withoutSweepLabel(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels ?? {}).filter(([k]) => k !== 'nes/sweep'));
}

/**
 * What can be done to the selected runs: compare two, cancel the active ones, rerun them all.
 * Each bulk action says how many runs it touches and asks first.
 */
function SelectionBar(props: { runs: Run[]; onCompare: (() => void) | null; onClear(): void }) {
  const active = props.runs.filter((run) => !isTerminal(run.status));
  return (
    <div className="selection-bar" role="toolbar" aria-label="Selected runs">
      <span>
        <strong>{props.runs.length}</strong> selected
      </span>
      {props.onCompare ? (
        <button type="button" className="btn" onClick={props.onCompare}>
          Compare selected
        </button>
      ) : props.runs.length === 1 ? (
        <span className="muted small">Select one more run to compare</span>
      ) : null}
      <BulkButton
        label={`Rerun ${props.runs.length}`}
        confirm={`Start ${props.runs.length} new run${props.runs.length === 1 ? '' : 's'} with the same notebooks, commits and parameters?`}
        runs={props.runs}
        action="rerun"
      />
      {active.length > 0 ? (
        <BulkButton
          label={`Cancel ${active.length} active`}
          confirm={`Stop ${active.length} active run${active.length === 1 ? '' : 's'}? Their notebooks so far are kept.`}
          runs={active}
          action="cancel"
          danger
        />
      ) : null}
      <button type="button" className="btn subtle" onClick={props.onClear}>
        Clear selection
      </button>
    </div>
  );
}

/** A bulk action with its own confirmation step and a result line (what failed, by run). */
function BulkButton(props: {
  label: string;
  confirm: string;
  runs: Run[];
  action: 'rerun' | 'cancel';
  danger?: boolean;
}) {
  const { client } = useApi();
  const [state, setState] = useState<'idle' | 'confirm' | 'busy'>('idle');
  const [result, setResult] = useState<string | null>(null);
  const go = async () => {
    setState('busy');
    const outcomes = await Promise.allSettled(
      props.runs.map((run) =>
        props.action === 'cancel'
          ? client.cancelRun(run.id)
          : client.rerun(run.id, {}, { idempotencyKey: crypto.randomUUID() }),
      ),
    );
    const failed = outcomes.flatMap((outcome, i) =>
      outcome.status === 'rejected'
        ? [`${shortRunId(props.runs[i]?.id ?? '')}: ${describeError(outcome.reason).message}`]
        : [],
    );
    const done = outcomes.length - failed.length;
    setResult(
      `${props.action === 'cancel' ? 'Cancelled' : 'Started'} ${done} of ${outcomes.length}${failed.length ? `; ${failed.join('; ')}` : ''}`,
    );
    setState('idle');
  };
  if (state === 'confirm') {
    return (
      <fieldset className="bulk-confirm" aria-label={props.label}>
        <span>{props.confirm}</span>
        <button
          type="button"
          className={`btn small${props.danger ? ' danger' : ' primary'}`}
          onClick={go}
        >
          Yes, {props.label.toLowerCase()}
        </button>
        <button
          type="button"
          className="btn small subtle"
          onClick={() => setState('idle')}
          // biome-ignore lint/a11y/noAutofocus: the confirmation opens on request; the safe answer is focused
          autoFocus
        >
          No
        </button>
      </fieldset>
    );
  }
  return (
    <>
      <button
        type="button"
        className={`btn small${props.danger ? ' danger' : ''}`}
        onClick={() => {
          setResult(null);
          setState('confirm');
        }}
        disabled={state === 'busy'}
      >
        {state === 'busy' ? 'Working…' : props.label}
      </button>
      {result ? (
        <span className="muted small" role="status">
          {result}
        </span>
      ) : null}
    </>
  );
}
