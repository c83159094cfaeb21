export { deterministicCellId, ensureCellIds, upgradeToCurrentMinor } from './cell-ids.ts';
export { NotebookFormatError } from './format-error.ts';
export type * from './nbformat.ts';
export { parseNotebook, readNotebook } from './read.ts';
export * from './translators/index.ts';
export type { IdPolicy } from './validate.ts';
export { validateNotebook } from './validate.ts';
export { serializeNotebook } from './write.ts';
