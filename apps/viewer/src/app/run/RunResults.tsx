/**
 * A finished run's results (GET /v1/runs/{id}/results): what its notebook recorded with
 * `nes.record`, `nes.exit` or scrapbook's `glue`. JSON values are shown as JSON text (never as
 * markup); display results (a DataFrame, a figure) are where they are in the notebook, so a row
 * jumps to that cell rather than copying the output here.
 */
import { isTerminal, type RunResults as Results, type ResultTrend, type Run } from '@nes/client';
import { Link } from 'wouter';
import { useApi, useLoad } from '../api.tsx';
import { ErrorView, Loading } from '../components.tsx';

/** Characters of a value shown in the table; the whole value is in the row's title. */
const SHOWN = 160;

export function resultText(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > SHOWN ? `${text.slice(0, SHOWN - 1)}…` : text;
}

export function RunResults(props: {
  run: Run;
  /** The author's number of each cell of the output notebook (authorCellNumbers). */
  cellNumbers: readonly (number | null)[];
  onSelect(cellIndex: number): void;
}) {
  const { run } = props;
  const api = useApi();
  const done = isTerminal(run.status);
  const loaded = useLoad<Results>(done ? `results:${run.id}` : null, (signal) =>
    api.client.results(run.id, { signal }),
  );
  if (!done) return <p className="muted">Results are collected when the run finishes.</p>;
  if (loaded.error) return <ErrorView error={loaded.error} what="the results" />;
  const results = loaded.data;
  if (!results) return <Loading what="the results" />;
  if (results.results.length === 0 && results.exit === null) {
    return (
      <p className="muted">
        The notebook recorded no results (<code>nes.record</code>, scrapbook's <code>glue</code>).
      </p>
    );
  }
  const cellName = (index: number) => {
    const number = props.cellNumbers[index];
    return number ? `cell ${number}` : `cell index ${index}`;
  };
  return (
    <>
      <table className="kv-table" aria-label="Results">
        <tbody>
          {results.results.map((result) => (
            <tr key={result.name}>
              <th className="mono">{result.name}</th>
              <td className="mono">
                {result.kind === 'value' && result.omitted === undefined ? (
                  <>
                    <span title={JSON.stringify(result.value)}>{resultText(result.value)}</span>
                    {typeof result.value === 'number' ? (
                      <ResultTrendChart run={run} name={result.name} />
                    ) : null}
                  </>
                ) : (
                  <button
                    type="button"
                    className="btn small subtle"
                    onClick={() => props.onSelect(result.cellIndex)}
                    title={result.omitted ?? (result.mimeTypes ?? []).join(', ')}
                  >
                    {result.kind === 'display'
                      ? `display in ${cellName(result.cellIndex)}`
                      : result.kind === 'encoded'
                        ? `${result.encoder ?? 'encoded'} in ${cellName(result.cellIndex)}`
                        : `too large: in ${cellName(result.cellIndex)}`}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {results.exit ? (
        <p className="small">
          Ended early by <code>nes.exit</code> in{' '}
          <button
            type="button"
            className="btn small subtle"
            onClick={() => props.onSelect(results.exit?.cellIndex ?? 0)}
          >
            {cellName(results.exit.cellIndex)}
          </button>
          : <span className="mono">{resultText(results.exit.value)}</span>
        </p>
      ) : null}
      {results.dropped.length > 0 ? (
        <p className="muted small">Not kept (over the limits): {results.dropped.join(', ')}</p>
      ) : null}
    </>
  );
}

/**
 * A numeric result across the latest runs of the same notebook with the same labels (the
 * service's own labels, such as who submitted, are left out): a line whose points link to runs.
 */
function ResultTrendChart(props: { run: Run; name: string }) {
  const { client } = useApi();
  const labels = Object.fromEntries(
    Object.entries(props.run.labels).filter(([key]) => !key.startsWith('nes/')),
  );
  const trend = useLoad<ResultTrend>(`trend:${props.run.id}:${props.name}`, (signal) =>
    client.resultTrend(props.run.notebook, props.name, { labels, limit: 50 }, { signal }),
  );
  const points = trend.data?.points ?? [];
  if (points.length < 2) return null;
  const width = 160;
  const height = 32;
  const values = points.map((p) => p.value);
  const low = Math.min(...values);
  const span = Math.max(...values) - low || 1;
  const x = (i: number) => (i / (points.length - 1)) * (width - 6) + 3;
  const y = (v: number) => height - 3 - ((v - low) / span) * (height - 6);
  return (
    <svg
      className="result-trend"
      width={width}
      height={height}
      role="img"
      aria-label={`${props.name} over the last ${points.length} runs: from ${values[0]} to ${values.at(-1)}`}
    >
      <polyline
        fill="none"
        stroke="currentColor"
        points={points.map((p, i) => `${x(i)},${y(p.value)}`).join(' ')}
      />
      {points.map((p, i) => (
        <Link key={p.runId} href={`/runs/${encodeURIComponent(p.runId)}`}>
          <circle
            cx={x(i)}
            cy={y(p.value)}
            r={p.runId === props.run.id ? 3.5 : 2}
            className={p.runId === props.run.id ? 'current' : undefined}
          >
            <title>{`${p.value} (run ${p.runId}, ${p.createdAt})`}</title>
          </circle>
        </Link>
      ))}
    </svg>
  );
}
