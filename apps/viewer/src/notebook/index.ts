/**
 * The notebook renderer's public surface: parse an .ipynb, render it
 * (virtualized, live-updatable, with untrusted output isolated in a
 * sandboxed frame), and outline it.
 */
export { AnsiText } from './AnsiText.tsx';
export type { CellRunStatus } from './CellView.tsx';
export { NotebookView, type NotebookViewProps } from './NotebookView.tsx';
export type { NotebookJson } from './nbformat.ts';
export { NotebookParseError, parseNotebook } from './nbformat.ts';
export { authorCellNumbers } from './papermill.ts';
export { TableOfContents, type TocEntry } from './TableOfContents.tsx';
