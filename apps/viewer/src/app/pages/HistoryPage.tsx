/**
 * A notebook's history (`/history?notebook=URI&label=k=v&days=30`): runs over time by status,
 * success rate, durations (p50/p95), failure classes, the last success (how fresh its output
 * is), the commits that ran, and its latest runs; which cell got slower between two of its runs
 * (the last two successes unless others are picked), and the full comparison on /compare.
 */
import type { NotebookHistory } from '@nes/client';
import { type ReactElement, type ReactNode, useState } from 'react';
import { Link, useSearchParams } from 'wouter';
import { useApi, useLoad, useTitle } from '../api.tsx';
import { ErrorView, Loading, Section, StatusBadge } from '../components.tsx';
import { TableHead } from '../form.tsx';
import { formatDate, formatDuration, notebookName, shortRunId, shortSha } from '../lib/format.ts';
import { cellDurationChanges } from '../lib/notebook-cells.ts';
import { useNotebook } from '../use-notebook.ts';

const STATUSES = ['succeeded', 'failed', 'timed_out', 'cancelled'] as const;

export function ageText(seconds: number): string {
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} days ago`;
}

export default function HistoryPage() {
  const [params] = useSearchParams();
  const notebook = params.get('notebook') ?? '';
  const days = Number(params.get('days') ?? 30) || 30;
  const labels: Record<string, string> = {};
  for (const pair of params.getAll('label')) {
    const at = pair.indexOf('=');
    if (at > 0) labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const { client } = useApi();
  useTitle(`History of ${notebookName(notebook)}`);
  const loaded = useLoad<NotebookHistory>(
    notebook ? `history:${params.toString()}` : null,
    (signal) => client.history(notebook, { labels, days }, { signal }),
  );
  if (!notebook) return <div className="page empty">Choose a notebook: /history?notebook=URI</div>;
  if (loaded.error) return <ErrorView error={loaded.error} what="the history" />;
  const history = loaded.data;
  if (!history) return <Loading what="the history" />;
  return <HistoryView history={history} days={days} />;
}

/** Rows of a monospaced name and what it counts (failure classes, commits). */
function KeyValueTable(props: {
  label: string;
  rows: Array<{ key: string; head: ReactNode; value: ReactNode }>;
}) {
  return (
    <table className="kv-table" aria-label={props.label}>
      <tbody>
        {props.rows.map((row) => (
          <tr key={row.key}>
            <th className="mono">{row.head}</th>
            <td>{row.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function HistoryView(props: { history: NotebookHistory; days: number }) {
  const { history } = props;
  const max = Math.max(
    1,
    ...history.days.map((d) => Object.values(d.counts).reduce((a, b) => a + b, 0)),
  );
  const successes = history.recent.filter((r) => r.status === 'succeeded');
  return (
    <div className="page history-page">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href="/">Runs</Link> <span aria-hidden="true">/</span>{' '}
        <Link href={`/?notebook=${encodeURIComponent(history.notebook)}`}>
          {notebookName(history.notebook)}
        </Link>{' '}
        <span aria-hidden="true">/</span> History
      </nav>
      <h1>{notebookName(history.notebook)}</h1>
      <p className="muted mono">{history.notebook}</p>
      <dl className="stats" aria-label="Summary">
        <div>
          <dt>Runs ({props.days} days)</dt>
          <dd>{Object.values(history.totals).reduce((a, b) => a + b, 0)}</dd>
        </div>
        <div>
          <dt>Success rate</dt>
          <dd>
            {history.successRate === null ? '-' : `${(history.successRate * 100).toFixed(1)}%`}
          </dd>
        </div>
        <div>
          <dt>Duration p50 / p95</dt>
          <dd>
            {formatDuration(seconds(history.durationSeconds.p50))} /{' '}
            {formatDuration(seconds(history.durationSeconds.p95))}
          </dd>
        </div>
        <div>
          <dt>Last success</dt>
          <dd>
            {history.lastSuccess ? (
              <Link href={`/runs/${encodeURIComponent(history.lastSuccess.runId)}`}>
                {ageText(history.lastSuccess.ageSeconds)}
              </Link>
            ) : (
              'never'
            )}
          </dd>
        </div>
      </dl>
      <Section title="Runs per day" id="per-day">
        {history.days.length === 0 ? (
          <p className="muted">No runs in this window.</p>
        ) : (
          <ul className="day-bars" aria-label="Runs per day">
            {history.days.map((day) => (
              <li key={day.day} title={`${day.day}: ${JSON.stringify(day.counts)}`}>
                <span className="mono small">{day.day}</span>
                <span className="day-bar" aria-hidden="true">
                  {STATUSES.map((status) =>
                    day.counts[status] ? (
                      <span
                        key={status}
                        className={`status-${status}`}
                        style={{ width: `${(day.counts[status] / max) * 100}%` }}
                      />
                    ) : null,
                  )}
                </span>
                <span className="small">
                  {STATUSES.filter((s) => day.counts[s])
                    .map((s) => `${day.counts[s]} ${s}`)
                    .join(', ')}
                  {day.p50Seconds !== null ? `, p50 ${formatDuration(day.p50Seconds * 1000)}` : ''}
                </span>
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="Failure classes" id="failures">
        {history.failureClasses.length === 0 ? (
          <p className="muted">No failures in this window.</p>
        ) : (
          <KeyValueTable
            label="Failure classes"
            rows={history.failureClasses.map((f) => ({
              key: f.class,
              head: f.class,
              value: f.count,
            }))}
          />
        )}
      </Section>
      <Section title="Commits" id="commits">
        <KeyValueTable
          label="Commits"
          rows={history.commits.map((c) => ({
            key: c.commitSha ?? 'none',
            head: c.commitSha ? shortSha(c.commitSha) : '(no commit)',
            value: `${c.runs} runs, ${c.succeeded} succeeded; ${formatDate(c.firstAt)} to ${formatDate(c.lastAt)}`,
          }))}
        />
      </Section>
      <CellChanges recent={history.recent} />
      <Section
        title="Latest runs"
        id="latest"
        actions={
          successes.length >= 2 ? (
            <Link
              className="btn small"
              href={`/compare?a=${encodeURIComponent(successes[1]?.id ?? '')}&b=${encodeURIComponent(successes[0]?.id ?? '')}`}
            >
              Compare the last two successes
            </Link>
          ) : null
        }
      >
        <table className="kv-table" aria-label="Latest runs">
          <tbody>
            {history.recent.slice(0, 20).map((run) => (
              <tr key={run.id}>
                <th>
                  <Link href={`/runs/${encodeURIComponent(run.id)}`} className="mono">
                    {run.id}
                  </Link>
                </th>
                <td>
                  <StatusBadge status={run.status as never} /> {formatDate(run.createdAt)}{' '}
                  {formatDuration(seconds(run.durationSeconds))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}

const FINISHED = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);

/** "+1.2 s (×2.0)", "−300 ms", "" when a side did not run the cell. */
function changeText(before: number | null, delta: number | null): string {
  if (before === null || delta === null) return '';
  const sign = delta >= 0 ? '+' : '−';
  const ratio = before > 0 ? ` (×${((before + delta) / before).toFixed(1)})` : '';
  return `${sign}${formatDuration(Math.abs(delta))}${ratio}`;
}

/** Which cell got slower: per-cell durations of two runs side by side, slowdowns first. */
function CellChanges(props: { recent: NotebookHistory['recent'] }) {
  const finished = props.recent.filter((run) => FINISHED.has(run.status));
  const successes = finished.filter((run) => run.status === 'succeeded');
  const [later, setLater] = useState(successes[0]?.id ?? finished[0]?.id ?? '');
  const [earlier, setEarlier] = useState(successes[1]?.id ?? finished[1]?.id ?? '');
  const path = (id: string) => (id ? `/v1/runs/${encodeURIComponent(id)}/notebook` : null);
  const before = useNotebook(finished.length >= 2 ? path(earlier) : null);
  const after = useNotebook(finished.length >= 2 ? path(later) : null);
  const pick = (label: string, value: string, set: (id: string) => void) => (
    <label className="field">
      <span>{label}</span>
      <select className="input mono" value={value} onChange={(e) => set(e.target.value)}>
        {finished.map((run) => (
          <option key={run.id} value={run.id}>
            {shortRunId(run.id)} · {formatDate(run.createdAt)} · {run.status}
          </option>
        ))}
      </select>
    </label>
  );
  let body: ReactElement;
  if (finished.length < 2) {
    body = <p className="muted">Two finished runs are needed to compare their cells.</p>;
  } else if (before.error || after.error) {
    body = <ErrorView error={before.error ?? after.error} what="a run's notebook" />;
  } else if (!before.notebook || !after.notebook) {
    body = <Loading what="the two notebooks" />;
  } else {
    const changes = cellDurationChanges(before.notebook, after.notebook);
    const slower = changes.filter((c) => c.slower).length;
    body =
      changes.length === 0 ? (
        <p className="muted">Neither notebook records cell durations.</p>
      ) : (
        <>
          <p className="small">
            {slower === 0
              ? 'No cell got slower.'
              : `${slower} cell${slower === 1 ? '' : 's'} got slower (10% and 100 ms or more).`}
          </p>
          <table className="files-table cell-changes" aria-label="Cell durations">
            <TableHead columns={['Cell', 'Source', 'Earlier', 'Later', 'Change']} />
            <tbody>
              {changes.map((change, i) => (
                <tr
                  // biome-ignore lint/suspicious/noArrayIndexKey: one row per aligned cell pair, in a fixed order
                  key={i}
                  className={change.slower ? 'slower' : undefined}
                  aria-label={`${change.label}${change.slower ? ' (slower)' : ''}`}
                >
                  <td className="small">{change.label}</td>
                  <td className="mono small">{change.summary}</td>
                  <td className="small">
                    {change.beforeMs === null ? 'did not run' : formatDuration(change.beforeMs)}
                  </td>
                  <td className="small">
                    {change.afterMs === null ? 'did not run' : formatDuration(change.afterMs)}
                  </td>
                  <td className="small">{changeText(change.beforeMs, change.deltaMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      );
  }
  return (
    <Section
      title="Which cell got slower"
      id="cell-changes"
      actions={
        earlier && later ? (
          <Link
            className="btn small"
            href={`/compare?a=${encodeURIComponent(earlier)}&b=${encodeURIComponent(later)}`}
          >
            Compare these runs
          </Link>
        ) : null
      }
    >
      {finished.length >= 2 ? (
        <div className="form-row">
          {pick('Earlier run', earlier, setEarlier)}
          {pick('Later run', later, setLater)}
        </div>
      ) : null}
      {body}
    </Section>
  );
}

function seconds(value: number | null): number | null {
  return value === null ? null : value * 1000;
}
