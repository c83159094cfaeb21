/**
 * A notebook's history (`/history?notebook=URI&label=k=v&days=30`): runs over time by status,
 * success rate, durations (p50/p95), failure classes, the last success (how fresh its output
 * is), the commits that ran, and its latest runs; two runs compare cell by cell on /compare
 * (which cell got slower).
 */
import type { NotebookHistory } from '@nes/client';
import { Link, useSearchParams } from 'wouter';
import { useApi, useLoad, useTitle } from '../api.tsx';
import { ErrorView, Loading, Section, StatusBadge } from '../components.tsx';
import { formatDate, formatDuration, notebookName, shortSha } from '../lib/format.ts';

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
          <table className="kv-table" aria-label="Failure classes">
            <tbody>
              {history.failureClasses.map((f) => (
                <tr key={f.class}>
                  <th className="mono">{f.class}</th>
                  <td>{f.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Commits" id="commits">
        <table className="kv-table" aria-label="Commits">
          <tbody>
            {history.commits.map((c) => (
              <tr key={c.commitSha ?? 'none'}>
                <th className="mono">{c.commitSha ? shortSha(c.commitSha) : '(no commit)'}</th>
                <td>
                  {c.runs} runs, {c.succeeded} succeeded; {formatDate(c.firstAt)} to{' '}
                  {formatDate(c.lastAt)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
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

function seconds(value: number | null): number | null {
  return value === null ? null : value * 1000;
}
