/**
 * A rendered notebook with its toolbar: show or hide all code, a table of contents, and a cell
 * to scroll to (the failing one). The renderer (`src/notebook`) draws the cells; outputs run in
 * the sandboxed frame origin the server named.
 */
import { type ReactNode, useState } from 'react';
import {
  type CellRunStatus,
  type NotebookJson,
  NotebookView,
  TableOfContents,
} from '../notebook/index.ts';
import { useApi } from './api.tsx';

export function NotebookPanel(props: {
  notebook: NotebookJson;
  cellStates?: ReadonlyArray<CellRunStatus | undefined>;
  focusCell?: number;
  title?: string;
  /** Shown at the right of the toolbar (a download link, live state). */
  extra?: ReactNode;
  /** Only the cells: no toolbar, no contents (a cell in the compare view). */
  bare?: boolean;
  /** papermill's banner offers its own jump (off when the page shows one). */
  bannerJump?: boolean;
  bannerLead?: string;
}) {
  const { frameOrigin } = useApi();
  const [hideCode, setHideCode] = useState(false);
  const [showToc, setShowToc] = useState(false);
  const [focus, setFocus] = useState<number | null>(null);
  // A new focus from the page (jump to the failing cell) wins over an earlier contents pick.
  const [pageFocus, setPageFocus] = useState(props.focusCell);
  if (pageFocus !== props.focusCell) {
    setPageFocus(props.focusCell);
    setFocus(null);
  }
  const focusCell = focus ?? props.focusCell;
  if (props.bare) {
    return (
      <NotebookView
        notebook={props.notebook}
        frameOrigin={frameOrigin}
        cellStates={props.cellStates}
      />
    );
  }
  return (
    <section className="panel notebook-panel" aria-label={props.title ?? 'Notebook'}>
      <header className="panel-header">
        <h2>{props.title ?? 'Notebook'}</h2>
        <div className="panel-actions">
          <button
            type="button"
            className="btn small"
            aria-pressed={showToc}
            onClick={() => setShowToc((v) => !v)}
          >
            Contents
          </button>
          <button
            type="button"
            className="btn small"
            aria-pressed={hideCode}
            onClick={() => setHideCode((v) => !v)}
          >
            {hideCode ? 'Show code' : 'Hide code'}
          </button>
          {props.extra}
        </div>
      </header>
      <div className={`notebook-layout${showToc ? ' with-toc' : ''}`}>
        {showToc ? (
          <nav className="toc" aria-label="Table of contents">
            <TableOfContents notebook={props.notebook} onSelect={setFocus} />
          </nav>
        ) : null}
        <div className="notebook-body">
          <NotebookView
            notebook={props.notebook}
            cellStates={props.cellStates}
            frameOrigin={frameOrigin}
            focusCell={focusCell}
            hideCode={hideCode}
            bannerJump={props.bannerJump ?? true}
            bannerLead={props.bannerLead}
          />
        </div>
      </div>
    </section>
  );
}
