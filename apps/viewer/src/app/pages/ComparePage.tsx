/**
 * Compare (`/compare?a=ID&b=ID`): two runs side by side. Parameters that differ are marked; cells
 * are aligned (by id, else position) and each pair is shown next to each other, with runs of
 * unchanged cells folded.
 */
import { type InspectResult, isTerminal, type Run } from '@nes/client';
import { type FormEvent, Fragment, useMemo, useState } from 'react';
import { Link, useLocation, useSearchParams } from 'wouter';
import { authorCellNumbers, type NotebookJson } from '../../notebook/index.ts';
import { useApi, useLoad, useNow, useTitle } from '../api.tsx';
import { ErrorView, Loading, StatusBadge } from '../components.tsx';
import { TableHead } from '../form.tsx';
import {
  elapsedMs,
  formatDate,
  formatDuration,
  formatValue,
  notebookName,
  shortRunId,
  shortSha,
} from '../lib/format.ts';
import { alignCells, type CellPair, cellDurations } from '../lib/notebook-cells.ts';
import { diffParameters } from '../lib/parameter-diff.ts';
import { NotebookPanel } from '../NotebookPanel.tsx';
import { useNotebook } from '../use-notebook.ts';

export default function ComparePage() {
  const [params] = useSearchParams();
  useTitle('Compare runs');
  const a = params.get('a') ?? '';
  const b = params.get('b') ?? '';
  if (!a || !b) return <ChooseRuns a={a} b={b} />;
  return <Comparison key={`${a}|${b}`} a={a} b={b} />;
}

function ChooseRuns(props: { a: string; b: string }) {
  const [, navigate] = useLocation();
  const [a, setA] = useState(props.a);
  const [b, setB] = useState(props.b);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (a.trim() && b.trim())
      navigate(`/compare?a=${encodeURIComponent(a.trim())}&b=${encodeURIComponent(b.trim())}`);
  };
  return (
    <div className="page compare-page">
      <h1>Compare runs</h1>
      <p className="muted">
        Pick two runs in the <Link href="/">runs list</Link> (the checkboxes) or use “Compare with…”
        on a run's page, or enter two run ids:
      </p>
      <form className="form-row" onSubmit={submit} aria-label="Choose runs to compare">
        <label className="field grow">
          <span>Run A</span>
          <input className="input mono" value={a} onChange={(e) => setA(e.target.value)} />
        </label>
        <label className="field grow">
          <span>Run B</span>
          <input className="input mono" value={b} onChange={(e) => setB(e.target.value)} />
        </label>
        <button type="submit" className="btn primary" disabled={!a.trim() || !b.trim()}>
          Compare
        </button>
      </form>
    </div>
  );
}

/**
 * The notebook's defaults at the commit a run ran (`POST /v1/inspect`), by name, as written in
 * its parameters cell: what a run that did not set a parameter actually ran with.
 */
function useDefaults(run: Run | undefined): Record<string, string> {
  const { client } = useApi();
  const ref = run?.commitSha ?? run?.ref ?? undefined;
  const inspect = useLoad<InspectResult>(
    run ? `defaults:${run.notebook}@${ref ?? ''}` : null,
    (signal) =>
      client.inspect(
        {
          notebook: run?.notebook ?? '',
          ...(ref ? { ref } : {}),
          ...(run?.kernel ? { kernel: run.kernel } : {}),
        },
        { signal },
      ),
  );
  return Object.fromEntries((inspect.data?.parameters ?? []).map((p) => [p.name, p.default]));
}

function DefaultValue(props: { text: string | undefined }) {
  return (
    <span className="muted" title="Not set by this run: the notebook's default">
      {props.text !== undefined ? (
        <>
          {props.text} <span className="small">(default)</span>
        </>
      ) : (
        'default'
      )}
    </span>
  );
}

function Comparison(props: { a: string; b: string }) {
  const { client } = useApi();
  const runA = useLoad(`run:${props.a}`, (signal) => client.getRun(props.a, { signal }));
  const runB = useLoad(`run:${props.b}`, (signal) => client.getRun(props.b, { signal }));
  const nbPath = (run: Run | undefined) =>
    run && (run.status === 'running' || isTerminal(run.status))
      ? `/v1/runs/${encodeURIComponent(run.id)}/notebook`
      : null;
  const nbA = useNotebook(nbPath(runA.data));
  const nbB = useNotebook(nbPath(runB.data));
  const now = useNow(false);
  const defaultsA = useDefaults(runA.data);
  const defaultsB = useDefaults(runB.data);

  if (runA.error) return <ErrorView error={runA.error} what={`run ${props.a}`} />;
  if (runB.error) return <ErrorView error={runB.error} what={`run ${props.b}`} />;
  if (!runA.data || !runB.data) return <Loading what="the two runs" />;
  const a = runA.data;
  const b = runB.data;
  const diff = diffParameters(a.parameters, b.parameters);
  const changed = diff.filter((row) => row.changed).length;

  return (
    <div className="page compare-page">
      <h1>Compare runs</h1>
      {a.notebook !== b.notebook ? (
        <p className="warning" role="note">
          These runs are of different notebooks: cells are aligned as well as they can be.
        </p>
      ) : null}
      <div className="compare-heads">
        <RunHead label="A" run={a} now={now} />
        <RunHead label="B" run={b} now={now} />
      </div>

      <section className="panel" aria-labelledby="param-diff-heading">
        <header className="panel-header">
          <h2 id="param-diff-heading">Parameters</h2>
          <span className="muted small">{changed === 0 ? 'identical' : `${changed} differ`}</span>
        </header>
        {diff.length === 0 ? (
          <p className="panel-body muted">Both runs used the notebook's defaults.</p>
        ) : (
          <table className="diff-table" aria-label="Parameter differences">
            <TableHead columns={['Parameter', 'A', 'B']} />
            <tbody>
              {diff.map((row) => (
                <tr
                  key={row.name}
                  className={row.changed ? 'changed' : undefined}
                  data-changed={row.changed || undefined}
                >
                  <th className="mono">
                    {row.name}
                    {row.changed ? <span className="visually-hidden"> (differs)</span> : null}
                  </th>
                  <td className="mono">
                    {row.inA ? formatValue(row.a) : <DefaultValue text={defaultsA[row.name]} />}
                  </td>
                  <td className="mono">
                    {row.inB ? formatValue(row.b) : <DefaultValue text={defaultsB[row.name]} />}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      {nbA.notebook && nbB.notebook ? (
        <CellComparison a={nbA.notebook} b={nbB.notebook} />
      ) : nbA.error || nbB.error ? (
        <ErrorView error={nbA.error ?? nbB.error} what="a run's notebook" />
      ) : nbPath(a) && nbPath(b) ? (
        <Loading what="the notebooks" />
      ) : (
        <div className="empty">Both runs need an output notebook to compare their cells.</div>
      )}
    </div>
  );
}

function RunHead(props: { label: string; run: Run; now: number }) {
  const { run } = props;
  return (
    <div className="compare-head panel">
      <div className="compare-head-title">
        <span className="side-label">{props.label}</span>
        <StatusBadge status={run.status} />
        <Link href={`/runs/${encodeURIComponent(run.id)}`} className="mono" title={run.id}>
          {shortRunId(run.id)}
        </Link>
      </div>
      <div className="small">
        <span title={run.notebook}>{notebookName(run.notebook)}</span>
        {run.commitSha ? <span className="mono sha"> @{shortSha(run.commitSha)}</span> : null}
      </div>
      <div className="small muted">
        {formatDate(run.createdAt)} ·{' '}
        {run.startedAt
          ? formatDuration(elapsedMs(run.startedAt, run.finishedAt, props.now))
          : 'not started'}
        {run.error ? (
          <>
            {' '}
            · <span className="mono">{run.error.ename || run.error.class}</span>
          </>
        ) : null}
      </div>
    </div>
  );
}

/** Consecutive unchanged pairs fold into one row that opens on demand. */
type Block =
  | { kind: 'changed'; pair: CellPair }
  | { kind: 'same'; pairs: CellPair[]; start: number };

function blocks(pairs: CellPair[]): Block[] {
  const out: Block[] = [];
  pairs.forEach((pair, index) => {
    const last = out[out.length - 1];
    if (pair.same) {
      if (last?.kind === 'same') last.pairs.push(pair);
      else out.push({ kind: 'same', pairs: [pair], start: index });
    } else out.push({ kind: 'changed', pair });
  });
  return out;
}

function CellComparison(props: { a: NotebookJson; b: NotebookJson }) {
  const { a, b } = props;
  const pairs = useMemo(() => alignCells(a, b), [a, b]);
  const durA = useMemo(() => new Map(cellDurations(a).map((d) => [d.index, d.ms])), [a]);
  const durB = useMemo(() => new Map(cellDurations(b).map((d) => [d.index, d.ms])), [b]);
  const [openBlocks, setOpenBlocks] = useState<Set<number>>(new Set());
  const changedCount = pairs.filter((p) => !p.same).length;
  return (
    <section className="panel" aria-labelledby="cells-heading">
      <header className="panel-header">
        <h2 id="cells-heading">Cells</h2>
        <span className="muted small">
          {changedCount} of {pairs.length} differ
        </span>
      </header>
      <div className="cell-pairs">
        {blocks(pairs).map((block) =>
          block.kind === 'changed' ? (
            <PairRow
              key={`c-${block.pair.a}-${block.pair.b}`}
              pair={block.pair}
              a={a}
              b={b}
              durA={durA}
              durB={durB}
            />
          ) : (
            <Fragment key={`s-${block.start}`}>
              <button
                type="button"
                className="fold"
                aria-expanded={openBlocks.has(block.start)}
                onClick={() =>
                  setOpenBlocks((set) => {
                    const next = new Set(set);
                    if (next.has(block.start)) next.delete(block.start);
                    else next.add(block.start);
                    return next;
                  })
                }
              >
                {openBlocks.has(block.start) ? '▾' : '▸'} {block.pairs.length} unchanged cell
                {block.pairs.length === 1 ? '' : 's'}
              </button>
              {openBlocks.has(block.start)
                ? block.pairs.map((pair) => (
                    <PairRow
                      key={`p-${pair.a}-${pair.b}`}
                      pair={pair}
                      a={a}
                      b={b}
                      durA={durA}
                      durB={durB}
                    />
                  ))
                : null}
            </Fragment>
          ),
        )}
      </div>
    </section>
  );
}

function PairRow(props: {
  pair: CellPair;
  a: NotebookJson;
  b: NotebookJson;
  durA: Map<number, number>;
  durB: Map<number, number>;
}) {
  const { pair } = props;
  const side = (
    nb: NotebookJson,
    index: number | null,
    durations: Map<number, number>,
    label: string,
  ) => {
    if (index === null) return <div className="pair-side missing">Not in run {label}</div>;
    const cell = nb.cells[index];
    if (!cell) return <div className="pair-side missing">-</div>;
    const ms = durations.get(index);
    // The author's numbering, as everywhere (papermill's injected cell has no number).
    const number = authorCellNumbers(nb.cells)[index];
    const name =
      number !== null && number !== undefined
        ? `cell ${number}`
        : cell.cell_type === 'code'
          ? 'injected parameters'
          : cell.cell_type;
    return (
      <div className="pair-side">
        <div className="pair-head mono small">
          <span>
            {label} · {name}
          </span>
          {ms !== undefined ? <span>{formatDuration(ms)}</span> : null}
        </div>
        <NotebookPanelCell notebook={{ ...nb, cells: [cell] } as NotebookJson} />
      </div>
    );
  };
  return (
    <div className={`pair${pair.same ? ' same' : ' differs'}`}>
      {side(props.a, pair.a, props.durA, 'A')}
      {side(props.b, pair.b, props.durB, 'B')}
    </div>
  );
}

/** One cell drawn by the renderer, without the panel's toolbar. */
function NotebookPanelCell(props: { notebook: NotebookJson }) {
  return <NotebookPanel notebook={props.notebook} bare />;
}
