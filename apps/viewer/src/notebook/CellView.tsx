/**
 * One notebook cell: a labelled article with a header (kind, execution
 * count, run status as text, duration, parameter badges), the input and the
 * outputs. Memoized by value so a live run's re-fetch re-renders only the
 * cells that changed.
 */
import { memo, useDeferredValue, useMemo, useState } from 'react';
import { CellErrorBoundary } from './CellErrorBoundary.tsx';
import { jsonEqual } from './equal.ts';
import { highlight, highlighterFor } from './highlight.ts';
import { useLoaded } from './lazy.ts';
import { Markup } from './Markup.tsx';
import { markdownRendered } from './markdown.ts';
import type { Attachments, Cell, CodeCell } from './nbformat.ts';
import { joinText } from './nbformat.ts';
import { OutputArea } from './outputs/OutputArea.tsx';
import {
  formatDuration,
  inputHidden,
  outputsHidden,
  papermillCellInfo,
  papermillMarker,
  parameterBadge,
} from './papermill.ts';
import { useMarkdown } from './useMarkdown.ts';

/**
 * `not_run`: a finished run never reached the cell (it ended earlier); `stopped`: the cell was
 * running when the run was cancelled or hit its deadline.
 */
export type CellRunStatus = 'pending' | 'running' | 'done' | 'failed' | 'not_run' | 'stopped';

export interface CellViewProps {
  cell: Cell;
  index: number;
  /**
   * The author's number of a code cell ("Cell 3", `authorCellNumbers`); null for the injected
   * parameters cell and for markdown and raw cells.
   */
  number: number | null;
  /** The failing cell's author number, for papermill's banner. */
  failingNumber: number | null;
  /** Whether papermill's banner offers its own jump (not when the page has one already). */
  bannerJump: boolean;
  /** How papermill's banner begins ("Execution failed"; a page knowing better may say why). */
  bannerLead?: string;
  /** Live status from the run, when one is executing. */
  status?: CellRunStatus;
  /** highlight.js grammar for code cells, or null for plain text. */
  grammar: string | null;
  hideCode: boolean;
  focused: boolean;
  frameOrigin: string;
  /** Index of the cell where execution failed (for papermill's banner). */
  failingIndex: number | null;
  onJumpToCell(index: number): void;
}

/** Stable key of a cell: its nbformat 4.5 id, else its position. */
export function cellKey(cell: Cell, index: number): string {
  return typeof cell.id === 'string' && cell.id !== '' ? cell.id : `#${index}`;
}

const STATUS_TEXT: Record<CellRunStatus, string> = {
  pending: 'Pending',
  running: 'Running',
  done: 'Done',
  failed: 'Failed',
  not_run: 'Not run',
  stopped: 'Stopped',
};

/**
 * The status to show: the live one, else what papermill recorded. In a notebook that failed,
 * papermill leaves the cells after the failure "pending": nothing will run them, so "Not run".
 */
function shownStatus(
  cell: Cell,
  live: CellRunStatus | undefined,
  notebookFailed: boolean,
): CellRunStatus | null {
  if (live) return live;
  const info = papermillCellInfo(cell);
  if (!info) return null;
  if (info.exception || info.status === 'failed') return 'failed';
  if (info.status === 'running') return 'running';
  if (info.status === 'completed') return 'done';
  if (info.status === 'pending') return notebookFailed ? 'not_run' : 'pending';
  return null;
}

function CellHeader({
  cell,
  number,
  status,
}: {
  cell: Cell;
  number: number | null;
  status: CellRunStatus | null;
}) {
  const info = papermillCellInfo(cell);
  const badge = parameterBadge(cell);
  return (
    <header className="nes-cell-header">
      {number !== null ? <span className="nes-cell-index">Cell {number}</span> : null}
      {badge && (
        <span
          className={`nes-badge nes-badge-${badge === 'Parameters' ? 'parameters' : 'injected'}`}
        >
          {badge}
        </span>
      )}
      {status && <span className={`nes-status nes-status-${status}`}>{STATUS_TEXT[status]}</span>}
      {info?.duration != null && (
        <span className="nes-duration" title="Execution time recorded by papermill">
          {formatDuration(info.duration)}
        </span>
      )}
      {info?.exception && status !== 'failed' && (
        <span className="nes-status nes-status-failed">Raised an exception</span>
      )}
    </header>
  );
}

function CodeInput({
  cell,
  grammar,
  status,
}: {
  cell: CodeCell;
  grammar: string | null;
  status: CellRunStatus | null;
}) {
  const source = joinText(cell.source);
  const hljs = useLoaded(highlighterFor(grammar), grammar !== null && source !== '');
  const html = useMemo(() => highlight(hljs, grammar, source), [hljs, grammar, source]);
  const count = status === 'running' ? '*' : (cell.execution_count ?? ' ');
  return (
    <div className="nes-input">
      <div className="nes-prompt nes-input-prompt">[{count}]:</div>
      <pre className="nes-input-code">
        <Markup as="code" className={grammar ? `hljs language-${grammar}` : 'hljs'} html={html} />
      </pre>
    </div>
  );
}

/** Outputs, unless the notebook collapsed them: then a bar that opens them. */
function CellOutputs({
  cell,
  index,
  number,
  frameOrigin,
}: {
  cell: CodeCell;
  index: number;
  number: number | null;
  frameOrigin: string;
}) {
  const [opened, setOpened] = useState(false);
  const count = cell.outputs.length;
  if (count > 0 && !opened && outputsHidden(cell)) {
    return (
      <p className="nes-output-note nes-outputs-hidden">
        {count === 1 ? '1 output hidden.' : `${count} outputs hidden.`}{' '}
        <button type="button" className="nes-link-button" onClick={() => setOpened(true)}>
          Show
        </button>
      </p>
    );
  }
  return (
    <OutputArea
      outputs={cell.outputs}
      cellKey={cellKey(cell, index)}
      cellName={number !== null ? `cell ${number}` : 'the parameters cell'}
      frameOrigin={frameOrigin}
      executionCount={cell.execution_count}
    />
  );
}

/**
 * A markdown cell. One rendered before shows at once (from the cache); a new one shows its
 * text first and is rendered in a deferred, interruptible pass, so a scroll that mounts many
 * cells paints without waiting for markdown-it, KaTeX and the sanitizer.
 */
function MarkdownBody({ cell }: { cell: Cell }) {
  const source = joinText(cell.source);
  const attachments = cell.cell_type === 'code' ? undefined : cell.attachments;
  const shown = useDeferredValue(source, markdownRendered(source) ? source : null);
  if (shown !== source) return <div className="nes-markdown nes-markdown-pending">{source}</div>;
  return <RenderedMarkdown source={source} attachments={attachments} />;
}

function RenderedMarkdown({ source, attachments }: { source: string; attachments?: Attachments }) {
  const html = useMarkdown(source, attachments);
  return <Markup as="div" className="nes-markdown" html={html} />;
}

function ErrorBanner({
  failingNumber,
  failingIndex,
  jump,
  lead,
  onJump,
}: {
  failingNumber: number | null;
  failingIndex: number | null;
  jump: boolean;
  lead: string;
  onJump(i: number): void;
}) {
  return (
    <div className="nes-error-banner" role="alert">
      <strong>{failingNumber !== null ? `${lead} at cell ${failingNumber}` : lead}</strong>
      {jump && failingIndex !== null && (
        <button type="button" className="nes-link-button" onClick={() => onJump(failingIndex)}>
          Go to the failing cell
        </button>
      )}
    </div>
  );
}

function CellViewImpl(props: CellViewProps) {
  const { cell, index, number, hideCode, focused, frameOrigin, grammar } = props;
  const marker = papermillMarker(cell);
  if (marker?.kind === 'banner') {
    return (
      <article className="nes-cell nes-cell-banner" aria-label="Execution error">
        <ErrorBanner
          failingNumber={props.failingNumber}
          failingIndex={props.failingIndex}
          jump={props.bannerJump}
          lead={props.bannerLead ?? 'Execution failed'}
          onJump={props.onJumpToCell}
        />
      </article>
    );
  }
  if (marker?.kind === 'anchor') {
    return (
      <article
        className="nes-cell nes-cell-anchor"
        aria-label="Execution stopped here"
        id="papermill-error-cell"
      >
        <p className="nes-error-anchor">
          Execution stopped here: the next cell raised an exception.
        </p>
      </article>
    );
  }
  const status = shownStatus(cell, props.status, props.failingIndex !== null);
  const classes = ['nes-cell', `nes-cell-${cell.cell_type}`];
  if (focused) classes.push('nes-cell-focused');
  if (status) classes.push(`nes-cell-${status}`);
  const kind =
    cell.cell_type === 'code' ? 'Code' : cell.cell_type === 'markdown' ? 'Markdown' : 'Raw';
  return (
    <article
      className={classes.join(' ')}
      aria-label={
        number !== null
          ? `${kind} cell ${number}`
          : parameterBadge(cell) === 'Injected parameters'
            ? 'Code cell: injected parameters'
            : `${kind} cell`
      }
      data-cell-index={index}
      data-state={status ?? undefined}
    >
      {cell.cell_type === 'code' ? (
        <>
          <CellHeader cell={cell} number={number} status={status} />
          {!hideCode && !inputHidden(cell) && (
            <CodeInput cell={cell} grammar={grammar} status={status} />
          )}
          <CellOutputs cell={cell} index={index} number={number} frameOrigin={frameOrigin} />
        </>
      ) : cell.cell_type === 'markdown' ? (
        <MarkdownBody cell={cell} />
      ) : (
        <pre className="nes-raw">{joinText(cell.source)}</pre>
      )}
    </article>
  );
}

function sameProps(a: CellViewProps, b: CellViewProps): boolean {
  return (
    a.index === b.index &&
    a.number === b.number &&
    a.status === b.status &&
    a.grammar === b.grammar &&
    a.hideCode === b.hideCode &&
    a.focused === b.focused &&
    a.frameOrigin === b.frameOrigin &&
    a.failingIndex === b.failingIndex &&
    a.failingNumber === b.failingNumber &&
    a.bannerJump === b.bannerJump &&
    a.bannerLead === b.bannerLead &&
    a.onJumpToCell === b.onJumpToCell &&
    jsonEqual(a.cell, b.cell)
  );
}

function GuardedCellView(props: CellViewProps) {
  return (
    <CellErrorBoundary number={props.number} resetKey={props.cell}>
      <CellViewImpl {...props} />
    </CellErrorBoundary>
  );
}

export const CellView = memo(GuardedCellView, sameProps);
